"""The key pages against a real Redis: browser, key page, create, increment, delete, bulk actions,
the 503 page, and the home page's usage bars."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from brands.cache import BrandCache
from brands.models import AuditEntry, Membership
from tests.support.dead_redis import DEAD_REDIS_CACHES
from tests.support.htmx import HX


def keys_url(brand, suffix: str = "") -> str:
    return f"/b/{brand.slug}/keys/{suffix}"


def results(response) -> str:
    """The key table part of a browser page (the namespace tree comes before it)."""
    return response.content.decode().split('id="key-results"')[-1]


def toast(response) -> dict:
    return json.loads(response["HX-Trigger"])["toast"]


def version(cache, key: str) -> str:
    """The version of a key a page shows (every change from the dashboard carries it)."""
    return cache.key_info(key).version


def edit(cache, key: str, value: str, ttl: str | None = None) -> dict:
    """The key page's edit form as a browser sends it: keep the TTL unless one is given."""
    data = {"value": value, "version": version(cache, key), "ttl_mode": "keep", "ttl": ""}
    if ttl is not None:
        data.update(ttl_mode="set", ttl=ttl)
    return data


# ---------------------------------------------------------------------------- browser


def test_browser_lists_keys_sorted_with_columns(admin_client, brand, cache):
    cache.set("b:two", {"n": 2}, 59 * 60 + 30)
    cache.set("a:one", "hello", 12)
    cache.set("c", [1, 2, 3])
    response = admin_client.get(keys_url(brand))
    assert response.status_code == 200
    body = results(response)
    assert body.index("a:one") < body.index("b:two") < body.index('>c</a>')
    assert "59 min" in body and ("12 s" in body or "11 s" in body)  # TTL remaining, human
    assert ">string<" in body and ">object<" in body and ">array<" in body  # JSON types
    assert "7 B" in body  # '"hello"' is 7 bytes
    assert f'href="/b/{brand.slug}/keys/a:one/"' in body


def test_browser_empty_states(admin_client, brand, cache):
    body = admin_client.get(keys_url(brand)).content.decode()
    assert "This brand has no keys yet" in body
    cache.set("user:1", 1)
    body = admin_client.get(keys_url(brand), {"prefix": "order:"}).content.decode()
    assert "Nothing under <code>order:</code>" in body
    # A prefix no key can have says why.
    body = admin_client.get(keys_url(brand), {"prefix": "a b"}).content.decode()
    assert "Keys only contain letters" in body


def test_prefix_search_full_page_and_htmx_partial(admin_client, brand, cache):
    for key in ["user:1", "user:2", "users", "order:1"]:
        cache.set(key, 1)
    full = admin_client.get(keys_url(brand), {"prefix": "user:"})
    partial = admin_client.get(keys_url(brand), {"prefix": "user:"}, **HX)
    assert b"<html" in full.content and b"<html" not in partial.content
    assert b'id="tree-title"' not in partial.content
    for body in (results(full), results(partial)):
        assert "user:<wbr>1</a>" in body and "user:<wbr>2</a>" in body
        assert ">users</a>" not in body and "order:<wbr>1</a>" not in body
        assert "<strong>2</strong> of <strong>2</strong> keys starting with <code>user:</code>" in body
    # The search box asks as you type, debounced, and keeps the URL in step. (Not "input changed":
    # the box is also set from the URL, which htmx's "changed" would not see.)
    assert 'hx-trigger="input delay:300ms, search"' in full.content.decode()
    assert 'hx-include="#search-form"' in full.content.decode()
    assert 'hx-push-url="true"' in full.content.decode()


def test_history_restore_gets_the_full_page(admin_client, brand, cache):
    cache.set("k", 1)
    response = admin_client.get(keys_url(brand), HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HX)
    body = response.content.decode()
    assert "<html" in body and 'id="key-results"' in body and 'id="tree-title"' in body


def test_paging_state_is_in_the_url(admin_client, brand, cache):
    names = [f"k:{i:03d}" for i in range(120)]
    for name in names:
        cache.set(name, 0)
    first = admin_client.get(keys_url(brand)).content.decode()
    assert "k:<wbr>049" in first and "k:<wbr>050</a>" not in first
    assert "<strong>50</strong> of <strong>120</strong> keys" in first  # "N of M" without a prefix
    # "Load more" fetches rows only, after a cursor, and puts the new row count in the URL.
    assert "part=rows&amp;after=k%3A049" in first and 'hx-push-url="/b/' in first and "?n=100" in first
    more = admin_client.get(keys_url(brand), {"after": "k:049", "part": "rows", "n": "100"}, **HX)
    more = more.content.decode()
    assert "<table" not in more and "<html" not in more
    assert more.count("<tr data-key=") == 50
    assert "k:<wbr>050" in more and "k:<wbr>099" in more and "k:<wbr>049</a>" not in more
    assert 'id="load-more"' in more and "after=k%3A099" in more and "n=150" in more
    last = admin_client.get(keys_url(brand), {"after": "k:099", "part": "rows", "n": "150"}, **HX)
    last = last.content.decode()
    assert last.count("<tr data-key=") == 20 and 'id="load-more"' not in last
    # The URL state alone (a reload, a shared link, no JavaScript) shows the same 100 rows.
    page = admin_client.get(keys_url(brand), {"n": "100"}).content.decode()
    assert page.count("<tr data-key=") == 100 and "<strong>100</strong> of <strong>120</strong>" in page
    # Nonsense is bounded, not an error.
    assert admin_client.get(keys_url(brand), {"n": "lots"}).content.decode().count("<tr data-key=") == 50


def test_paging_within_a_prefix(admin_client, brand, cache):
    for i in range(60):
        cache.set(f"a:{i:02d}", i)
        cache.set(f"b:{i:02d}", i)
    first = admin_client.get(keys_url(brand), {"prefix": "b:"}).content.decode()
    assert "after=b%3A49" in first and "prefix=b%3A" in first and "a:<wbr>00</a>" not in first
    more = admin_client.get(keys_url(brand), {"prefix": "b:", "after": "b:49", "part": "rows"}, **HX)
    body = more.content.decode()
    assert body.count("<tr data-key=") == 10 and "b:<wbr>59" in body and "a:" not in body


def test_natural_order_option(admin_client, brand, cache):
    for i in (1, 2, 10, 20, 100):
        cache.set(f"user:{i}", i)
    by_name = admin_client.get(keys_url(brand), {"prefix": "user:"}, **HX).content.decode()
    natural = admin_client.get(keys_url(brand), {"prefix": "user:", "sort": "natural"}, **HX).content.decode()

    def order(body):
        return [line.split('"')[1] for line in body.split("<tr data-key=")[1:]]

    assert order(by_name) == ["user:1", "user:10", "user:100", "user:2", "user:20"]
    assert order(natural) == ["user:1", "user:2", "user:10", "user:20", "user:100"]
    assert "in natural order" in natural


def test_namespace_tree_counts(admin_client, brand, cache):
    for key in ["user:1:name", "user:1:mail", "user:2:name", "order:9", "plain"]:
        cache.set(key, 1)
    body = admin_client.get(keys_url(brand)).content.decode()
    tree = body.split('id="tree-title"')[1].split("</nav>")[0]
    assert 'title="Show keys under user:">user:<wbr></a> <span class="count" title="3 keys">3</span>' in tree
    assert 'title="Show keys under order:">order:<wbr></a> <span class="count" title="1 key">1</span>' in tree
    assert f'href="/b/{brand.slug}/keys/plain/">plain</a>' in tree
    # Children load on expand, at any depth.
    children = admin_client.get(keys_url(brand), {"part": "tree", "ns": "user:"}, **HX).content.decode()
    assert "<html" not in children
    one = 'title="Show keys under user:1:">1:<wbr></a> <span class="count" title="2 keys">2</span>'
    two = 'title="Show keys under user:2:">2:<wbr></a> <span class="count" title="1 key">1</span>'
    assert one in children and two in children
    leaves = admin_client.get(keys_url(brand), {"part": "tree", "ns": "user:1:"}, **HX).content.decode()
    assert ">mail</a>" in leaves and ">name</a>" in leaves
    # A malformed namespace is just empty, not an error.
    bad = admin_client.get(keys_url(brand), {"part": "tree", "ns": "no colon"}, **HX)
    assert bad.status_code == 200 and "Empty." in bad.content.decode()


def test_value_and_key_preview_are_escaped(admin_client, brand, cache):
    cache.set("xss", "<script>alert(1)</script>")
    cache.set("obj", {"<img src=x onerror=alert(1)>": "</td><script>"})
    for url in (keys_url(brand), keys_url(brand, "xss/"), keys_url(brand, "obj/")):
        body = admin_client.get(url).content.decode()
        assert "<script>alert(1)" not in body and "<img src=x" not in body and "</td><script>" not in body
    body = admin_client.get(keys_url(brand, "xss/")).content.decode()
    assert "&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;" in body


def test_browser_query_count_is_bounded(admin_client, brand, cache, django_assert_max_num_queries):
    for i in range(200):
        cache.set(f"ns{i % 7}:key:{i:04d}", {"i": i})
    # Session, user, the membership with its brand and quota (one query): the number of keys
    # never adds queries.
    with django_assert_max_num_queries(3):
        response = admin_client.get(keys_url(brand))
    assert response.status_code == 200
    with django_assert_max_num_queries(3):
        admin_client.get(keys_url(brand), {"prefix": "ns1:", "after": "ns1:key:0008", "part": "rows"}, **HX)


def test_reserved_page_names_stay_reachable_as_keys(admin_client, brand, cache):
    cache.set("new", 1)
    cache.set("bulk", 2)
    browser = admin_client.get(keys_url(brand)).content.decode()
    assert f'href="/b/{brand.slug}/keys/~new/"' in browser
    assert f'href="/b/{brand.slug}/keys/~bulk/"' in browser
    page = admin_client.get(keys_url(brand, "~new/"))
    assert page.status_code == 200 and '<h1 class="key-title mono">new</h1>' in page.content.decode()
    assert admin_client.get(keys_url(brand, "new/")).content.decode().count('name="key"') == 1  # the form


# ---------------------------------------------------------------------------- key page


def test_key_page_shows_pretty_value_and_limits(admin_client, brand, cache):
    cache.set("cfg", {"a": [1, 2], "b": "ü"}, 600)
    body = admin_client.get(keys_url(brand, "cfg/")).content.decode()
    assert '{\n  &quot;a&quot;: [\n    1,\n    2\n  ],' in body
    assert "ü" in body
    assert "7 / 512 bytes" not in body and "/ 512 bytes" in body
    assert ">10 min</time>" in body or ">9 min</time>" in body
    # The TTL field starts at the time left (600 s), not the brand's default; keeping it is chosen.
    assert 'data-max-bytes="512"' in body and 'max="3600"' in body and 'value="600"' in body
    assert 'value="keep" data-ttl-mode="" id="id_ttl_mode_0" required checked' in body


def test_missing_key_page_is_404_with_a_way_back(admin_client, brand):
    response = admin_client.get(keys_url(brand, "nope/"))
    assert response.status_code == 404
    assert "No key named <code>nope</code>" in response.content.decode()


def test_save_htmx_returns_panel_with_toast(admin_client, brand, cache):
    cache.set("k", 1)
    response = admin_client.post(keys_url(brand, "k/"), edit(cache, "k", '{"x": [1, "two"]}', "120"), **HX)
    assert response.status_code == 200
    assert b"<html" not in response.content and b'id="value-title"' in response.content
    assert toast(response) == {"message": "Saved k.", "level": "ok"}
    assert cache.get("k") == {"x": [1, "two"]}
    assert 110 < cache.key_info("k").ttl_seconds <= 120
    entry = AuditEntry.objects.get(brand=brand, action="key.update")
    assert entry.outcome == "ok" and entry.target == "k"


def test_save_without_htmx_redirects_back(admin_client, brand, cache):
    cache.set("k", 1)
    response = admin_client.post(keys_url(brand, "k/"), edit(cache, "k", "2", "60"))
    assert response.status_code == 302 and response["Location"] == keys_url(brand, "k/")
    assert cache.get("k") == 2
    assert "Saved k." in admin_client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    ("value", "ttl", "reason"),
    [
        ("{not json", "60", "Invalid JSON: Expecting property name enclosed in double quotes"),
        ("NaN", "60", "Invalid JSON: NaN is not valid JSON"),
        ('"' + "x" * 600 + '"', "60", "602 bytes as compact JSON, above this brand&#x27;s limit of 512"),
        ("1", "3601", "Ensure this value is less than or equal to 3600."),
        ("1", "0", "Ensure this value is greater than or equal to 1."),
        ("", "60", "This field is required."),
    ],
)
def test_save_refusals_show_the_reason_and_change_nothing(admin_client, brand, cache, value, ttl, reason):
    cache.set("k", "before", 100)
    response = admin_client.post(keys_url(brand, "k/"), edit(cache, "k", value, ttl), **HX)
    assert response.status_code == 200
    assert reason in response.content.decode()
    assert "HX-Trigger" not in response
    assert cache.get("k") == "before" and cache.key_info("k").ttl_seconds <= 100
    assert AuditEntry.objects.get(brand=brand, action="key.update").outcome == "refused"


def test_size_limit_counts_compact_utf8_bytes(admin_client, brand_factory, member_factory, client):
    brand = brand_factory(max_value_bytes=10)
    client.force_login(member_factory(brand))
    cache = BrandCache.for_brand(brand)
    # Pretty-printed it is long, compact it is [1,2,3] (7 bytes): accepted.
    pretty = "[\n  1,\n  2,\n  3\n]"
    cache.set("k", 0)
    assert client.post(keys_url(brand, "k/"), edit(cache, "k", pretty)).status_code == 302
    assert cache.get_json("k") == "[1,2,3]"
    # "ééééé" is 5 characters but 12 bytes with its quotes: refused.
    body = client.post(keys_url(brand, "k/"), edit(cache, "k", '"ééééé"')).content.decode()
    assert "12 bytes as compact JSON" in body and cache.get_json("k") == "[1,2,3]"


def test_increment_number_and_refuse_non_number(admin_client, brand, cache):
    cache.set("n", 5)
    response = admin_client.post(keys_url(brand, "n/increment/"),
                                 {"amount": "2.5", "ttl": "", "version": version(cache, "n")}, **HX)
    assert response.status_code == 200 and cache.get("n") == 7.5
    assert toast(response)["message"] == "n is now 7.5."
    cache.set("s", "5")
    response = admin_client.post(keys_url(brand, "s/increment/"),
                                 {"amount": "1", "version": version(cache, "s")}, **HX)
    body = response.content.decode()
    assert "its value is not a number" in body and cache.get("s") == "5"
    assert "HX-Trigger" not in response
    outcomes = list(AuditEntry.objects.filter(action="key.increment").values_list("target", "outcome"))
    assert sorted(outcomes) == [("n", "ok"), ("s", "refused")]


def test_increment_amount_must_be_a_number(admin_client, brand, cache):
    cache.set("n", 5)
    body = admin_client.post(keys_url(brand, "n/increment/"),
                             {"amount": "lots", "version": version(cache, "n")}, **HX).content.decode()
    assert "Enter a number." in body and cache.get("n") == 5


def test_delete_htmx_sends_toast_and_frees_the_key(admin_client, brand, cache):
    cache.set("gone", 1)
    response = admin_client.post(keys_url(brand, "gone/delete/"), {"version": version(cache, "gone")}, **HX)
    assert response.status_code == 200 and b"<html" not in response.content
    assert toast(response) == {"message": "Deleted gone.", "level": "ok"}
    assert "usage-changed" in json.loads(response["HX-Trigger"])
    assert not cache.has("gone") and cache.live_count() == 0
    assert AuditEntry.objects.filter(brand=brand, action="key.delete", target="gone", outcome="ok").exists()


def test_delete_without_htmx_redirects_to_the_namespace(admin_client, brand, cache):
    cache.set("user:1:name", 1)
    response = admin_client.post(keys_url(brand, "user:1:name/delete/"),
                                 {"version": version(cache, "user:1:name")})
    assert response.status_code == 302
    assert response["Location"] == keys_url(brand) + "?prefix=user:1:"


def test_delete_controls_ask_for_confirmation(admin_client, brand, cache):
    cache.set("k", 1)
    assert 'hx-confirm="Delete the key k? You can restore it from the audit log."' in admin_client.get(
        keys_url(brand, "k/")
    ).content.decode()
    assert 'hx-confirm="Delete the key k?"' in admin_client.get(keys_url(brand)).content.decode()


# ---------------------------------------------------------------------------- create


def test_create_key(admin_client, brand, cache):
    page = admin_client.get(keys_url(brand, "new/"), {"key": "user:"}).content.decode()
    assert 'value="user:"' in page and 'value="3600"' in page
    response = admin_client.post(keys_url(brand, "new/"), {"key": "user:7", "value": '{"a": 1}', "ttl": "30"})
    assert response.status_code == 302 and response["Location"] == keys_url(brand, "user:7/")
    assert cache.get("user:7") == {"a": 1} and cache.key_info("user:7").ttl_seconds <= 30
    assert AuditEntry.objects.get(action="key.create").target == "user:7"


def test_create_with_htmx_redirects_client_side(admin_client, brand, cache):
    response = admin_client.post(keys_url(brand, "new/"), {"key": "k", "value": "1", "ttl": "30"}, **HX)
    assert response.status_code == 200 and response["HX-Redirect"] == keys_url(brand, "k/")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"key": "has space", "value": "1", "ttl": "60"}, "Invalid key &#x27;has space&#x27;: keys must be"),
        ({"key": "k{1}", "value": "1", "ttl": "60"}, "Invalid key"),
        ({"key": "x" * 201, "value": "1", "ttl": "60"}, "at most 200 characters"),
        ({"key": "ok", "value": "[1,", "ttl": "60"}, "Invalid JSON"),
        ({"key": "ok", "value": '"' + "x" * 511 + '"', "ttl": "60"}, "513 bytes as compact JSON"),
        ({"key": "ok", "value": "1", "ttl": "99999"}, "less than or equal to 3600"),
        ({"key": "ok", "value": "1", "ttl": "-5"}, "greater than or equal to 1"),
    ],
)
def test_create_refusals_show_the_reason_and_change_nothing(admin_client, brand, cache, data, reason):
    response = admin_client.post(keys_url(brand, "new/"), data)
    assert response.status_code == 200
    assert reason in response.content.decode()
    assert cache.live_count() == 0
    assert AuditEntry.objects.get(action="key.create").outcome == "refused"


def test_create_refused_at_the_key_limit(client, brand_factory, member_factory):
    brand = brand_factory(max_keys=2)
    client.force_login(member_factory(brand))
    cache = BrandCache.for_brand(brand)
    cache.set("a", 1)
    cache.set("b", 2)
    response = client.post(keys_url(brand, "new/"), {"key": "c", "value": "3", "ttl": "60"})
    body = response.content.decode()
    assert response.status_code == 200 and "key limit of 2 keys reached" in body
    assert not cache.has("c") and cache.live_count() == 2
    entry = AuditEntry.objects.get(action="key.create")
    assert entry.outcome == "refused" and "key limit" in entry.detail
    # Overwriting an existing key is still allowed at the limit.
    assert client.post(keys_url(brand, "a/"), edit(cache, "a", "10", "60")).status_code == 302
    assert cache.get("a") == 10


def test_create_never_overwrites(admin_client, brand, cache):
    cache.set("taken", "original")
    data = {"key": "taken", "value": '"new"', "ttl": "60"}
    body = admin_client.post(keys_url(brand, "new/"), data).content.decode()
    assert "a key named taken already exists" in body
    assert f'href="/b/{brand.slug}/keys/taken/">Open taken</a>' in body
    assert cache.get("taken") == "original"


def test_create_partial_for_htmx(admin_client, brand):
    response = admin_client.get(keys_url(brand, "new/"), **HX)
    assert b"<html" not in response.content and b'id="create-form"' in response.content


# ---------------------------------------------------------------------------- bulk actions


def test_bulk_delete_dry_run_then_confirm(admin_client, brand, cache):
    for key in ["tmp:1", "tmp:2", "tmp:3", "keep:1", "tmpx"]:
        cache.set(key, 1)
    count = admin_client.get(keys_url(brand, "bulk/delete/"), {"prefix": "tmp:"}, **HX)
    body = count.content.decode()
    assert "<html" not in body and "<strong>3</strong> keys start with <code>tmp:</code>" in body
    assert "dry run" in body and "Nothing was changed." in body
    assert "Delete 3 keys starting with tmp:</button>" in body
    assert 'hx-confirm="Delete 3 keys starting with tmp:?' in body
    assert 'name="expected" value="3"' in body
    assert cache.live_count() == 5  # the dry run deletes nothing
    response = admin_client.post(keys_url(brand, "bulk/delete/"), {"prefix": "tmp:", "expected": "3"}, **HX)
    assert toast(response)["message"] == "Deleted 3 keys under tmp:."
    assert "so this can be undone" in response.content.decode()
    assert sorted(item.key for item in cache.list_keys().items) == ["keep:1", "tmpx"]
    entry = AuditEntry.objects.get(action="bulk.delete_prefix")
    assert entry.target == "tmp:" and entry.detail == "3 keys deleted; kept for undo" and entry.undo_token


def test_bulk_delete_confirmation_must_match_the_dry_run(admin_client, brand, cache):
    for key in ["tmp:1", "tmp:2"]:
        cache.set(key, 1)
    # The dry run said 2; a key was added since: nothing is deleted, the new count is shown.
    cache.set("tmp:3", 1)
    response = admin_client.post(keys_url(brand, "bulk/delete/"), {"prefix": "tmp:", "expected": "2"}, **HX)
    body = response.content.decode()
    assert "The keys changed since the dry run: it counted 2, now 3." in body
    assert "Delete 3 keys starting with tmp:" in body and cache.count_prefix("tmp:") == 3
    assert AuditEntry.objects.get(action="bulk.delete_prefix").outcome == "refused"


def test_bulk_delete_full_page_flow_and_bad_prefix(admin_client, brand, cache):
    cache.set("a", 1)
    page = admin_client.get(keys_url(brand, "bulk/delete/"), {"prefix": ""}).content.decode()
    assert "<html" in page and "this deletes <strong>every key</strong>" in page
    bad = admin_client.get(keys_url(brand, "bulk/delete/"), {"prefix": "a b"}).content.decode()
    assert "No key can start with" in bad
    response = admin_client.post(keys_url(brand, "bulk/delete/"), {"prefix": "a b", "expected": "1"})
    assert response.status_code == 200 and cache.has("a")
    response = admin_client.post(keys_url(brand, "bulk/delete/"), {"prefix": "", "expected": "1"})
    assert response.status_code == 302 and cache.live_count() == 0


def test_export_import_round_trip_with_a_refused_line(client, brand_factory, brand, cache, member_factory):
    user = member_factory(brand)
    target = brand_factory("target")
    Membership.objects.create(user=user, brand=target, role=Membership.Role.ADMIN)
    client.force_login(user)
    cache.set("a:1", {"x": "ü"}, 100)
    cache.set("a:2", [1, None, True])
    cache.set("b", "<b>")
    response = client.get(keys_url(brand, "bulk/export/"))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == f'attachment; filename="{brand.slug}-keys.jsonl"'
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["a:1", "a:2", "b"]

    upload = "\n".join([*lines, '{"key": "bad key", "value": 1}', "not json", '{"key": "big", "value": "'
                        + "x" * 600 + '"}']) + "\n"
    response = client.post(
        keys_url(target, "bulk/import/"),
        {"file": SimpleUploadedFile("dump.jsonl", upload.encode(), content_type="application/x-ndjson")},
        **HX,
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert "<strong>3</strong> keys written, <strong>3</strong> lines refused" in body
    assert "<td class=\"num\">4</td><td class=\"mono\">bad key</td>" in body
    assert "not valid JSON: Expecting value (column 1)" in body and "above the limit of 512 bytes" in body
    copy = BrandCache.for_brand(target)
    assert copy.get("a:1") == {"x": "ü"} and copy.get("a:2") == [1, None, True] and copy.get("b") == "<b>"
    assert copy.key_info("a:1").ttl_seconds <= 100
    entry = AuditEntry.objects.get(brand=target, action="bulk.import")
    assert entry.outcome == "ok" and entry.detail == "3 written, 3 refused (overwrite existing keys)"


def test_import_needs_a_file(admin_client, brand):
    body = admin_client.post(keys_url(brand, "bulk/import/"), {}, **HX).content.decode()
    assert "This field is required." in body


# ---------------------------------------------------------------------------- layout, home


def test_brand_layout_nav_role_and_usage_bar(client, brand_factory, member_factory):
    brand = brand_factory(max_keys=10)
    cache = BrandCache.for_brand(brand)
    for i in range(8):
        cache.set(f"k{i}", i)
    client.force_login(member_factory(brand, Membership.Role.VIEWER))
    body = client.get(keys_url(brand)).content.decode()
    for path in ("keys", "console", "usage", "audit"):
        assert f'href="/b/{brand.slug}/{path}/"' in body
    assert 'aria-current="page">Keys</a>' in body
    assert ">read only</span>" in body
    assert "<strong>8</strong> / 10 keys · 80.0 %" in body and 'class="bar-svg warning"' in body
    assert ">near limit</span>" in body
    cache.set("k8", 8)
    cache.set("k9", 9)
    body = client.get(f"/b/{brand.slug}/audit/").content.decode()
    assert 'class="bar-svg critical"' in body and "100.0 %" in body and ">critical</span>" in body
    assert 'aria-current="page">Audit</a>' in body


def test_usage_bar_partial(admin_client, brand, cache):
    cache.set("a", 1)
    response = admin_client.get(f"/b/{brand.slug}/usage-bar/", **HX)
    assert b"<html" not in response.content and b"<strong>1</strong> / 50,000 keys" in response.content


def test_home_lists_brands_with_usage(client, brand_factory, member_factory, staff_user):
    one = brand_factory("one", max_keys=4)
    two = brand_factory("two")
    BrandCache.for_brand(one).set("a", 1)
    client.force_login(staff_user)
    body = client.get("/").content.decode()
    assert "<strong>1</strong> / 4 keys · 25.0 %" in body and "<strong>0</strong> / 50,000 keys" in body
    assert f'href="/b/{two.slug}/keys/"' in body


def test_home_sends_a_single_brand_member_to_its_keys(client, brand_factory, member_factory):
    brand = brand_factory("solo")
    client.force_login(member_factory(brand, Membership.Role.VIEWER))
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/b/solo/keys/"


def test_home_with_two_brands_shows_only_those(client, brand_factory, user_factory):
    user = user_factory()
    mine = [brand_factory("mine-a"), brand_factory("mine-b")]
    brand_factory("not-mine")
    for brand in mine:
        Membership.objects.create(user=user, brand=brand, role="viewer")
    client.force_login(user)
    body = client.get("/").content.decode()
    assert "mine-a" in body and "mine-b" in body and "not-mine" not in body


# ---------------------------------------------------------------------------- CSRF, Redis down


def test_posts_without_csrf_token_are_refused(brand, member_factory, cache):
    cache.set("k", 1)
    client = Client(enforce_csrf_checks=True)
    client.force_login(member_factory(brand))
    posts = [
        (keys_url(brand, "k/"), edit(cache, "k", "2", "60")),
        (keys_url(brand, "k/delete/"), {"version": version(cache, "k")}),
        (keys_url(brand, "k/increment/"), {"amount": "1", "version": version(cache, "k")}),
        (keys_url(brand, "new/"), {"key": "x", "value": "1", "ttl": "60"}),
        (keys_url(brand, "bulk/delete/"), {"prefix": ""}),
        (keys_url(brand, "bulk/import/"), {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert cache.get("k") == 1 and cache.live_count() == 1
    # With the token (as the pages send it, in the X-CSRFToken header from <body hx-headers>) it works.
    page = client.get(keys_url(brand, "k/"))
    token = page.context["csrf_token"]
    response = client.post(keys_url(brand, "k/"), edit(cache, "k", "2", "60"), HTTP_X_CSRFTOKEN=str(token),
                           **HX)
    assert response.status_code == 200 and cache.get("k") == 2


def test_redis_down_gives_a_503_page_then_recovers(admin_client, brand, cache, settings):
    cache.set("k", 1)
    real = settings.CACHES
    settings.CACHES = DEAD_REDIS_CACHES
    for url in (keys_url(brand), keys_url(brand, "k/"), keys_url(brand, "bulk/export/")):
        response = admin_client.get(url)
        body = response.content.decode()
        assert response.status_code == 503, url
        assert "The cache is unavailable right now…" in body and "<html" in body
        assert "Traceback" not in body and 'http-equiv="refresh"' in body
    response = admin_client.post(keys_url(brand, "k/"), {"value": "2", "ttl_mode": "keep", "version": "1:ab"},
                                 **HX)
    assert response.status_code == 503 and b"<html" not in response.content
    assert b"The cache is unavailable right now" in response.content
    assert toast(response)["level"] == "error"
    # Pages that can work without Redis still do, saying what is missing.
    audit = admin_client.get(f"/b/{brand.slug}/audit/")
    assert audit.status_code == 200 and "usage unavailable" in audit.content.decode()
    # Redis back: the same pages work again, nothing to restart.
    settings.CACHES = real
    assert admin_client.get(keys_url(brand, "k/")).status_code == 200


def test_home_survives_redis_down(client, brand_factory, staff_user, dead_redis):
    brand_factory("one")
    client.force_login(staff_user)
    response = client.get("/")
    assert response.status_code == 200
    assert "usage cannot be shown" in response.content.decode()


def test_a_value_with_a_lone_surrogate_shows_escaped_on_the_key_page(admin_client, brand):
    # A script may store one ('\ud800' is a valid JavaScript string); the page used to answer 500
    # writing it as UTF-8. It shows the JSON escape instead.
    cache = BrandCache.for_brand(brand)
    cache.set("odd", {"text": "a\ud800b"})
    response = admin_client.get(f"/b/{brand.slug}/keys/odd/")
    assert response.status_code == 200
    assert "a\\ud800b" in response.content.decode()
