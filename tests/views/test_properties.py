"""No 500 from user input (issue 11): generated values, TTLs, amounts, keys and prefixes posted to
every form and JSON endpoint. Whatever comes in, the answer is never a 5xx, and a refused attempt
changes nothing: the brand's keys and values in Redis are as they were (the audit log says it was
refused). Bounded: a few dozen examples per endpoint, no deadline (a shared machine is slow)."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brands.cache import BrandCache
from brands.models import AuditEntry, Membership, QuotaSettings
from tests.support.htmx import HX

EXAMPLES = 40
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

KEYS = st.one_of(
    st.sampled_from(["num", "big", "text", "new:key", "a" * 200, "a" * 201, "a b", "", "é", "x\n",
                     "{0}", "new", "bulk", "~new", "k:1:", "../x", "%00"]),
    st.text(max_size=24),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=8,
).map(lambda value: json.dumps(value))
VALUE_TEXTS = st.one_of(
    JSON_VALUES,
    st.sampled_from(["1e400", "-1e400", "1e308", "NaN", "Infinity", "[" * 3000, "{" * 700 + "}" * 700,
                     "9" * 400, "9" * 5000, "{", "", "null", '"\\ud800"', '"' + "x" * 100 + '"', "\x00"]),
    st.text(max_size=60),
)
NUMBER_TEXTS = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6).map(str),
    st.floats().map(repr),
    st.sampled_from(["", "0", "-1", "1", "1e3", "9" * 400, "9" * 5000, "abc", "7200", "7201", "1e308",
                     "-1e308", "1e400", "nan", "inf", "-inf", " 5", "5 ", "0x10", "1_000", "²"]),
    st.text(max_size=8),
)


class Snapshot(dict):
    """The brand's keys: key -> (value JSON, seconds left). Equal to a later snapshot when no key
    changed, appeared or disappeared, except keys that simply expired in between (an accepted
    example may have set a TTL of one second; a slow machine makes the gap long)."""

    def __eq__(self, later) -> bool:
        for key in self.keys() | later.keys():
            if key not in later and self[key][1] <= 10:
                continue  # expired meanwhile
            if key not in self or key not in later or self[key][0] != later[key][0]:
                return False
        return True

    __hash__ = None


def snapshot(cache: BrandCache) -> Snapshot:
    items = cache.list_keys(limit=1000).items
    return Snapshot({item.key: (item.value_json, item.ttl_seconds) for item in items})


@pytest.fixture
def world(client, brand_factory, member_factory):
    brand = brand_factory(max_keys=5, max_value_bytes=48, default_ttl=3600, max_ttl=7200)
    cache = BrandCache.for_brand(brand)
    cache.set("num", 5)
    cache.set("big", 1e308)
    cache.set("text", "hello")
    client.force_login(member_factory(brand, Membership.Role.ADMIN))
    return client, brand, cache


def post_and_check(client, brand, cache, url: str, data, *, htmx: bool, **extra):
    before, last = snapshot(cache), AuditEntry.objects.filter(brand=brand).order_by("-id").first()
    response = client.post(url, data, **(HX if htmx else {}), **extra)
    assert response.status_code < 500, (url, data, response.status_code)
    new = AuditEntry.objects.filter(brand=brand, id__gt=last.id if last else 0).order_by("id")
    return response, before, list(new)


def assert_refusal_changed_nothing(cache, before, entries, context) -> None:
    assert entries, f"nothing audited for {context}"
    if entries[-1].outcome == "refused":
        assert snapshot(cache) == before, (context, entries[-1].detail)


@SETTINGS
@given(key=KEYS, value=VALUE_TEXTS, ttl=NUMBER_TEXTS, htmx=st.booleans())
def test_create_key(world, key, value, ttl, htmx):
    client, brand, cache = world
    data = {"key": key, "value": value, "ttl": ttl}
    _response, before, entries = post_and_check(client, brand, cache, f"/b/{brand.slug}/keys/new/", data,
                                                htmx=htmx)
    assert_refusal_changed_nothing(cache, before, entries, data)


@SETTINGS
@given(key=st.sampled_from(["num", "text", "big", "fresh"]), value=VALUE_TEXTS, ttl=NUMBER_TEXTS,
       htmx=st.booleans())
def test_edit_key(world, key, value, ttl, htmx):
    client, brand, cache = world
    data = {"value": value, "ttl": ttl}
    _response, before, entries = post_and_check(client, brand, cache, f"/b/{brand.slug}/keys/{key}/", data,
                                                htmx=htmx)
    assert_refusal_changed_nothing(cache, before, entries, data)


@SETTINGS
@given(key=st.sampled_from(["num", "big", "text", "fresh"]), amount=NUMBER_TEXTS,
       ttl=NUMBER_TEXTS | st.just(""), htmx=st.booleans())
def test_increment_key(world, key, amount, ttl, htmx):
    client, brand, cache = world
    data = {"amount": amount, "ttl": ttl}
    _response, before, entries = post_and_check(client, brand, cache,
                                                f"/b/{brand.slug}/keys/{key}/increment/", data, htmx=htmx)
    assert_refusal_changed_nothing(cache, before, entries, data)


@SETTINGS
@given(key=KEYS, htmx=st.booleans())
def test_delete_key_and_key_urls(world, key, htmx):
    client, brand, cache = world
    url = f"/b/{brand.slug}/keys/{quote(key, safe='')}/"
    assert client.get(url).status_code < 500
    response = client.post(url + "delete/", {}, **(HX if htmx else {}))
    assert response.status_code < 500, key
    cache.set("num", 5)  # keep something to delete next time


@SETTINGS
@given(prefix=KEYS, confirm=st.booleans(), htmx=st.booleans())
def test_bulk_delete(world, prefix, confirm, htmx):
    client, brand, cache = world
    url = f"/b/{brand.slug}/keys/bulk/delete/"
    assert client.get(url, {"prefix": prefix}, **(HX if htmx else {})).status_code < 500
    assert client.get(f"/b/{brand.slug}/keys/", {"prefix": prefix}).status_code < 500
    if confirm:
        _response, before, entries = post_and_check(client, brand, cache, url, {"prefix": prefix}, htmx=htmx)
        assert_refusal_changed_nothing(cache, before, entries, prefix)
        for key, value in (("num", 5), ("text", "hello")):
            cache.set(key, value)


IMPORT_LINES = st.one_of(
    st.builds(lambda k, v, t: json.dumps({"key": k, "value": json.loads(v), "ttl": json.loads(t)})
              if re.fullmatch(r"-?[0-9]{1,299}", t) else json.dumps({"key": k, "value": json.loads(v)}),
              KEYS, JSON_VALUES, NUMBER_TEXTS),
    st.builds(lambda k, v: '{"key": ' + json.dumps(k) + ', "value": ' + v + "}", KEYS, VALUE_TEXTS),
    st.builds(lambda k, t: '{"key": ' + json.dumps(k) + ', "value": 1, "ttl": ' + t + "}",
              KEYS, NUMBER_TEXTS),
    st.text(max_size=40),
    st.sampled_from(["", "[]", "{}", '{"key": "a"}', "x" * 3000]),
)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=st.lists(IMPORT_LINES, max_size=8), policy=st.sampled_from(["overwrite", "skip", "stop", "",
                                                                          "bogus"]),
       dry_run=st.booleans(), raw=st.binary(max_size=30), htmx=st.booleans())
def test_import(world, lines, policy, dry_run, raw, htmx):
    client, brand, cache = world
    content = ("\n".join(lines)).encode("utf-8", "surrogatepass") + b"\n" + raw
    data = {"file": SimpleUploadedFile("dump.jsonl", content), "policy": policy}
    if dry_run:
        data["dry_run"] = "on"
    _response, before, entries = post_and_check(client, brand, cache, f"/b/{brand.slug}/keys/bulk/import/",
                                                data, htmx=htmx)
    assert len(entries) == 1  # every import attempt is audited, refused or not
    if dry_run or entries[-1].outcome == "refused":
        assert snapshot(cache) == before, entries[-1].detail


JS_LITERALS = st.one_of(
    VALUE_TEXTS.filter(lambda text: "\n" not in text and "\r" not in text and "\u2028" not in text),
    st.sampled_from(["undefined", "NaN", "Infinity", "-Infinity", "1e400", "{a: 1}", "[1, [2]]", "'x'",
                     "Symbol()", "10n", "null"]),
)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(method=st.sampled_from(["set", "setIfAbsent", "increment"]), key=KEYS, value=JS_LITERALS,
       ttl=st.sampled_from(["undefined", "60", "0", "-1", "1e400", "'10'", "86400", "NaN"]),
       body_kind=st.sampled_from(["json", "form", "garbage"]))
def test_console_json(world, script_pool, method, key, value, ttl, body_kind):
    client, brand, cache = world
    code = f"cache.{method}({json.dumps(key)}, {value}, {ttl})"
    if body_kind == "json":
        kwargs = {"data": json.dumps({"code": code}), "content_type": "application/json"}
    elif body_kind == "form":
        kwargs = {"data": {"code": code}}
    else:
        kwargs = {"data": b"\xff{not json", "content_type": "application/json"}
    before = snapshot(cache)
    response = client.post(f"/b/{brand.slug}/console/", HTTP_ACCEPT="application/json", **kwargs)
    assert response.status_code < 500, code
    result = response.json()
    if response.status_code == 400:  # nothing to run (an unreadable body holds no script)
        assert set(result) == {"error"} and snapshot(cache) == before
    elif not result["ok"] or result["result"] in (False, None):
        assert snapshot(cache) == before, (code, result)


QUOTA_FIELDS = ["max_keys", "max_value_bytes", "default_ttl", "max_ttl", "max_ops_per_execution",
                "script_timeout_ms", "script_memory_mb", "max_concurrent_scripts"]


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(values=st.fixed_dictionaries(dict.fromkeys(QUOTA_FIELDS, NUMBER_TEXTS)), htmx=st.booleans())
def test_quota_editor_as_staff(client, brand, staff_user, values, htmx):
    client.force_login(staff_user)
    before = QuotaSettings.objects.filter(brand=brand).values(*QUOTA_FIELDS).get()
    response = client.post(f"/staff/quotas/{brand.slug}/edit/", values, **(HX if htmx else {}))
    assert response.status_code < 500, values
    refused = response.status_code == 200 and b"errorlist" in response.content
    if refused:
        assert QuotaSettings.objects.filter(brand=brand).values(*QUOTA_FIELDS).get() == before
    else:
        assert response.status_code in (200, 302)
