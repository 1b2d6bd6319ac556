"""A deactivated brand (Brand.is_active False) is read only everywhere: its pages show a banner
and no write controls, every write and script run is refused with the reason and audited as
refused, staff included; reading and exporting still work."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from brands.cache import BrandCache
from brands.models import AuditEntry, Membership, ScriptRun
from brands.scripting import run_script
from tests.support.htmx import HX


@pytest.fixture
def inactive(brand):
    cache = BrandCache.for_brand(brand)
    cache.set("k", 1)
    cache.set("n", 5)
    brand.is_active = False
    brand.save()
    return brand


def writes(brand) -> list[tuple[str, str, dict]]:
    s = brand.slug
    return [
        ("key.update", f"/b/{s}/keys/k/", {"value": "2", "ttl": "60"}),
        ("key.create", f"/b/{s}/keys/new/", {"key": "new", "value": "1", "ttl": "60"}),
        ("key.delete", f"/b/{s}/keys/k/delete/", {}),
        ("key.increment", f"/b/{s}/keys/n/increment/", {"amount": "1"}),
        ("bulk.delete_prefix", f"/b/{s}/keys/bulk/delete/", {"prefix": ""}),
        ("bulk.import", f"/b/{s}/keys/bulk/import/",
         {"file": SimpleUploadedFile("a.jsonl", b'{"key":"i","value":1}\n')}),
        ("script.run", f"/b/{s}/console/", {"code": "cache.set('k', 9)"}),
    ]


@pytest.mark.parametrize("role", ["admin", "staff"])
def test_every_write_is_refused_with_the_reason_and_audited(client, inactive, member_factory, staff_user,
                                                           role):
    client.force_login(staff_user if role == "staff" else member_factory(inactive, Membership.Role.ADMIN))
    for action, url, data in writes(inactive):
        response = client.post(url, data)
        body = response.content.decode()
        assert response.status_code == 403, url
        assert "is deactivated" in body and "Nothing was changed" in body, url
        entry = AuditEntry.objects.filter(brand=inactive).latest("id")
        assert (entry.action, entry.outcome) == (action, "refused"), url
        assert "deactivated" in entry.detail
    cache = BrandCache.for_brand(inactive)
    assert cache.get("k") == 1 and cache.get("n") == 5 and cache.live_count() == 2
    assert not ScriptRun.objects.filter(brand=inactive).exists()


def test_htmx_and_json_clients_get_the_reason_too(client, inactive, member_factory):
    client.force_login(member_factory(inactive, Membership.Role.ADMIN))
    response = client.post(f"/b/{inactive.slug}/keys/k/", {"value": "2", "ttl": "60"}, **HX)
    assert response.status_code == 403
    assert "deactivated" in json.loads(response["HX-Trigger"])["toast"]["message"]
    response = client.post(f"/b/{inactive.slug}/console/", json.dumps({"code": "1"}),
                           content_type="application/json", HTTP_ACCEPT="application/json")
    result = response.json()
    assert response.status_code == 403 and result["ok"] is False and result["ops"] == 0
    assert "deactivated" in result["error"]["message"] and set(result) >= {"variables", "logs", "warnings"}


def test_pages_show_a_banner_and_no_write_controls_but_still_read(client, inactive, member_factory):
    client.force_login(member_factory(inactive, Membership.Role.ADMIN))
    for url in (f"/b/{inactive.slug}/keys/", f"/b/{inactive.slug}/keys/k/", f"/b/{inactive.slug}/keys/bulk/",
                f"/b/{inactive.slug}/console/", f"/b/{inactive.slug}/usage/", f"/b/{inactive.slug}/audit/"):
        response = client.get(url)
        body = response.content.decode()
        assert response.status_code == 200, url
        assert "This brand is deactivated." in body, url
        assert "data-write" not in body and "Delete" not in body.split("brand-inactive")[1], url
    export = client.get(f"/b/{inactive.slug}/keys/bulk/export/")
    assert len(b"".join(export.streaming_content).splitlines()) == 2


def test_an_active_brand_has_no_banner(admin_client, brand):
    assert "This brand is deactivated." not in admin_client.get(f"/b/{brand.slug}/keys/").content.decode()


def test_scripts_do_not_run_for_a_deactivated_brand(inactive):
    result = run_script(inactive, "cache.set('k', 9); 1")
    assert result["ok"] is False and result["ops"] == 0 and "deactivated" in result["error"]["message"]
    assert BrandCache.for_brand(inactive).get("k") == 1
