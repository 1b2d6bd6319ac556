"""Every brand URL of the key and audit pages × every kind of user × GET and POST.

anonymous -> 302 to the login page; non-member -> 404 (the brand's existence is not revealed);
viewer -> reads 200 without edit controls, writes 403; admin and staff -> writes work. No response,
whoever asks, contains a key name of another brand.
"""

from __future__ import annotations

import itertools

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from brands.audit import audit_record
from brands.cache import BrandCache
from brands.models import Membership

OTHER_BRAND_KEY = "zz-leak-other-brand-key-7f3a"
_unique = itertools.count()

def version(brand, key: str) -> str:
    """The version of a key a page would show: every dashboard change carries it."""
    info = BrandCache.for_brand(brand).key_info(key)
    return info.version if info else ""


# (url under /b/<slug>/, GET status for readers, POST status for writers, POST data factory taking
# the brand: called after the keys are reset, so versions are current)
# A GET-only URL answers a writer's POST with 405; a POST-only URL answers any GET with 405.
URLS = [
    ("keys/", 200, 405, lambda b: {}),
    ("keys/?prefix=my&part=rows", 200, 405, lambda b: {}),
    ("keys/?part=tree&ns=ns:", 200, 405, lambda b: {}),
    ("keys/?part=refresh", 200, 405, lambda b: {}),
    ("keys/mykey/", 200, 302,
     lambda b: {"value": '{"v": 2}', "ttl_mode": "keep", "version": version(b, "mykey")}),
    ("keys/count/increment/", 405, 302, lambda b: {"amount": "1", "version": version(b, "count")}),
    ("keys/mykey/delete/", 405, 302, lambda b: {"version": version(b, "mykey")}),
    ("keys/new/", 200, 302, lambda b: {"key": f"created-{next(_unique)}", "value": "1", "ttl": "60"}),
    ("keys/bulk/", 200, 405, lambda b: {}),
    ("keys/bulk/delete/?prefix=ns:", 200, 302, lambda b: {"prefix": "nothing-here:", "expected": "0"}),
    ("keys/bulk/ttl/?prefix=ns:&ttl=60", 200, 302, lambda b: {"prefix": "nothing-here:", "ttl": "60",
                                                                 "expected": "0"}),
    ("keys/bulk/copy/?prefix=ns:&target=cp:&operation=copy", 200, 302,
     lambda b: {"prefix": "nothing-here:", "target": "x:", "operation": "copy", "expected": "0"}),
    ("keys/bulk/export/", 200, 405, lambda b: {}),
    ("keys/bulk/import/", 405, 200,
     lambda b: {"file": SimpleUploadedFile("in.jsonl", b'{"key": "imported", "value": 1}\n')}),
    ("usage-bar/", 200, 405, lambda b: {}),
    ("audit/", 200, 405, lambda b: {}),
    ("audit/?format=csv", 200, 405, lambda b: {}),
    ("members/", 200, 200, lambda b: {"identifier": "nobody-by-this-name", "role": "viewer"}),
    ("alerts/", 200, 405, lambda b: {}),
    ("alerts/thresholds/", 405, 302, lambda b: {"thresholds": "80, 95, 100"}),
    ("alerts/channels/", 405, 302, lambda b: {"email_admins": "on", "webhook_url": ""}),
    ("alerts/secret/", 405, 302, lambda b: {}),
    ("alerts/test/", 405, 400, lambda b: {}),  # no webhook URL set: refused, with the reason
]

ROLES = ["anonymous", "non-member", "viewer", "admin", "staff"]


@pytest.fixture
def world(brand_factory, member_factory, user_factory):
    brand = brand_factory("matrix")
    other = brand_factory("other-brand")
    BrandCache.for_brand(other).set(OTHER_BRAND_KEY, "secret")
    BrandCache.for_brand(other).set("ns:" + OTHER_BRAND_KEY, "secret")
    audit_record(brand=other, user=None, action="key.update", target=OTHER_BRAND_KEY)
    users = {
        "anonymous": None,
        "non-member": member_factory(other, Membership.Role.ADMIN),
        "viewer": member_factory(brand, Membership.Role.VIEWER),
        "admin": member_factory(brand, Membership.Role.ADMIN),
        "staff": user_factory("staffer", staff=True),
    }
    return brand, users


def _reset(brand) -> None:
    cache = BrandCache.for_brand(brand)
    cache.set("mykey", {"v": 1})
    cache.set("count", 1)
    cache.set("ns:inner", True)


def _body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(client, world, role):
    brand, users = world
    if users[role] is not None:
        client.force_login(users[role])
    failures = []
    for url, read_status, write_status, data in URLS:
        full = f"/b/{brand.slug}/{url}"
        for method in ("GET", "POST"):
            _reset(brand)
            response = client.get(full) if method == "GET" else client.post(full, data(brand))
            expected = {
                "anonymous": 302,
                "non-member": 404,
                "viewer": read_status if method == "GET" else 403,
                "admin": read_status if method == "GET" else write_status,
                "staff": read_status if method == "GET" else write_status,
            }[role]
            body = _body(response)
            if response.status_code != expected:
                failures.append(f"{method} {url}: {response.status_code}, expected {expected}")
            if role == "anonymous" and response.status_code == 302 and not response["Location"].startswith(
                "/login/?next="
            ):
                failures.append(f"{method} {url}: redirected to {response['Location']}")
            if OTHER_BRAND_KEY in body:
                failures.append(f"{method} {url}: leaks another brand's key name")
            if role == "viewer" and method == "GET" and response.status_code == 200:
                for marker in ("data-write", "hx-post", 'name="value"', "Delete"):
                    if marker in body:
                        failures.append(f"GET {url}: viewer sees edit control {marker!r}")
    assert not failures, "\n".join(failures)


def test_viewer_posts_change_nothing(client, world):
    brand, users = world
    client.force_login(users["viewer"])
    _reset(brand)
    cache = BrandCache.for_brand(brand)
    before = [(item.key, item.value_json) for item in cache.list_keys().items]
    for url, _read, _write, data in URLS:
        client.post(f"/b/{brand.slug}/{url}", data(brand))
    assert [(item.key, item.value_json) for item in cache.list_keys().items] == before


@pytest.mark.parametrize("role", ["admin", "staff"])
def test_writers_see_edit_controls(client, world, role):
    brand, users = world
    client.force_login(users[role])
    _reset(brand)
    for url in ("keys/", "keys/mykey/", "keys/new/", "keys/bulk/", "members/"):
        body = client.get(f"/b/{brand.slug}/{url}").content.decode()
        assert "data-write" in body, url


@pytest.mark.parametrize("role", ["admin", "staff"])
def test_writers_writes_take_effect(client, world, role):
    brand, users = world
    client.force_login(users[role])
    _reset(brand)
    cache = BrandCache.for_brand(brand)
    client.post(f"/b/{brand.slug}/keys/mykey/",
                {"value": '"changed"', "ttl_mode": "set", "ttl": "60", "version": version(brand, "mykey")})
    client.post(f"/b/{brand.slug}/keys/count/increment/", {"amount": "4", "version": version(brand, "count")})
    client.post(f"/b/{brand.slug}/keys/ns:inner/delete/", {"version": version(brand, "ns:inner")})
    assert cache.get("mykey") == "changed" and cache.get("count") == 5 and not cache.has("ns:inner")


def test_a_key_of_another_brand_is_not_found_by_name(client, world):
    brand, users = world
    client.force_login(users["staff"])
    response = client.get(f"/b/{brand.slug}/keys/{OTHER_BRAND_KEY}/")
    assert response.status_code == 404
    # The other brand's key is untouched by a delete aimed at it through this brand.
    client.post(f"/b/{brand.slug}/keys/{OTHER_BRAND_KEY}/delete/", {"version": "0:00"})
    other = world[0].__class__.objects.get(slug="other-brand")
    assert BrandCache.for_brand(other).get(OTHER_BRAND_KEY) == "secret"
