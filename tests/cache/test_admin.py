"""The dashboard's operations on the cache service: paging, tree, info, bulk, export/import."""

from __future__ import annotations

import json
import time

import pytest

from brands.cache import BrandCache, CacheKeyError


def fill(cache: BrandCache, names: list[str]) -> None:
    for name in names:
        assert cache.set(name, {"name": name})


def test_list_keys_sorted_and_paged_by_cursor(cache):
    names = [f"k{i:03d}" for i in range(120)]
    fill(cache, reversed(names))
    seen, after = [], None
    while True:
        page = cache.list_keys(after=after, limit=50)
        seen += [item.key for item in page.items]
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert seen == names


def test_cursor_is_stable_while_keys_change(cache):
    fill(cache, [f"k{i:02d}" for i in range(10)])
    first = cache.list_keys(limit=4)
    assert [i.key for i in first.items] == ["k00", "k01", "k02", "k03"]
    cache.delete("k04")  # the next key disappears
    cache.set("k00a", 1)  # a key appears before the cursor
    cache.set("k05a", 1)  # a key appears after it
    second = cache.list_keys(after=first.next_cursor, limit=4)
    assert [i.key for i in second.items] == ["k05", "k05a", "k06", "k07"]


def test_list_keys_by_prefix(cache):
    fill(cache, ["user:1", "user:2", "users", "page:home", "user"])
    page = cache.list_keys(prefix="user:")
    assert [i.key for i in page.items] == ["user:1", "user:2"]
    assert [i.key for i in cache.list_keys(prefix="user").items] == ["user", "user:1", "user:2", "users"]
    assert cache.list_keys(prefix="nothing").items == []
    assert cache.list_keys(prefix="bad prefix!").items == []


def test_list_keys_skips_expired(cache):
    cache.set("a", 1, 1)
    cache.set("b", 1)
    time.sleep(1.1)
    assert [i.key for i in cache.list_keys().items] == ["b"]


def test_forged_cursor_does_not_break_paging(cache):
    fill(cache, ["a", "b"])
    assert [i.key for i in cache.list_keys(after="+inf] (x").items] == ["a", "b"]


def test_key_info(cache):
    cache.set("k", {"a": "\u00e9"}, 100)
    info = cache.key_info("k")
    assert info.value == {"a": "\u00e9"}
    assert info.value_json == '{"a":"\u00e9"}'
    assert info.size_bytes == 10
    assert info.json_type == "object"
    assert 98 < info.ttl_seconds <= 100
    assert cache.key_info("missing") is None
    types = {"s": "x", "n": 1.5, "b": True, "z": None, "l": [1]}
    for key, value in types.items():
        cache.set(key, value)
    assert {k: cache.key_info(k).json_type for k in types} == {
        "s": "string", "n": "number", "b": "boolean", "z": "null", "l": "array"
    }


def test_namespace_tree_counts_at_any_depth(cache):
    fill(cache, ["page:home:views", "page:home:likes", "page:about:views", "page", "user:1", "user:2",
                 "user:2:profile", "solo"])
    top = {n.prefix: (n.key_count, n.is_leaf) for n in cache.namespace_tree()}
    assert top == {"page": (1, True), "page:": (3, False), "solo": (1, True), "user:": (3, False)}
    page = {n.label: n.key_count for n in cache.namespace_tree("page:")}
    assert page == {"about:": 1, "home:": 2}
    user = {(n.label, n.is_leaf): n.key_count for n in cache.namespace_tree("user:")}
    assert user == {("1", True): 1, ("2", True): 1, ("2:", False): 1}
    assert [n.label for n in cache.namespace_tree("page:home:")] == ["likes", "views"]
    with pytest.raises(CacheKeyError):
        cache.namespace_tree("no-colon")


def test_namespace_tree_excludes_expired(cache):
    cache.set("a:x", 1, 1)
    cache.set("a:y", 1)
    time.sleep(1.1)
    assert [(n.prefix, n.key_count) for n in cache.namespace_tree()] == [("a:", 1)]


def test_namespace_tree_limit(cache):
    fill(cache, [f"n{i}:x" for i in range(30)])
    assert len(cache.namespace_tree(limit=10)) == 10


def test_count_and_delete_prefix(cache):
    fill(cache, [f"tmp:{i}" for i in range(1200)] + ["tmpx", "keep"])
    assert cache.count_prefix("tmp:") == 1200
    assert cache.delete_prefix("tmp:") == 1200
    assert cache.live_count() == 2
    assert [i.key for i in cache.list_keys().items] == ["keep", "tmpx"]
    assert cache.delete_prefix("") == 2
    assert cache.live_count() == 0


def test_usage_figures(cache):
    cache.set("a", "xyz")
    cache.set("b", 12)
    assert cache.live_count() == 2
    assert cache.stored_bytes() == len('"xyz"') + len("12")


def test_stored_bytes_across_batches(cache):
    fill(cache, [f"k{i}" for i in range(50)])
    expected = sum(len(json.dumps({"name": f"k{i}"}, separators=(",", ":"))) for i in range(50))
    assert cache.stored_bytes_scanned(batch=7) == expected
    assert cache.stored_bytes() == expected  # the figure the write scripts keep


def test_export_import_round_trip(brand_factory):
    source, target = BrandCache.for_brand(brand_factory()), BrandCache.for_brand(brand_factory(max_keys=3))
    for i in range(4):
        source.set(f"k{i}", {"i": i}, 600)
    lines = list(source.export_lines(batch=3))
    assert len(lines) == 4
    assert json.loads(lines[0])["key"] == "k0" and json.loads(lines[0])["value"] == {"i": 0}
    bad = ["not json", '{"key":"bad key","value":1}', '{"key":"big","value":"' + "x" * 600 + '"}',
           '{"key":"t","value":1,"ttl":-5}', '["list"]', ""]
    report = target.import_lines(lines + bad)
    assert report.written == 3
    reasons = {number: reason for number, _key, reason in report.refused}
    assert "key limit of 3 keys reached" in reasons[4]
    assert reasons[5] == "not valid JSON: Expecting value (column 1)"
    assert "Invalid cache key" in reasons[6]
    assert "602 bytes" in reasons[7]
    assert "Invalid TTL" in reasons[8]
    assert "expected an object" in reasons[9]
    assert len(report.refused) == 6
    assert 590 < target.key_info("k0").ttl_seconds <= 600
    assert target.get("k2") == {"i": 2}


def test_delete_all_removes_every_trace(cache):
    fill(cache, ["a", "b:c"])
    cache.set("big", "x" * 1000)  # refused, but counted in stats
    assert cache.delete_all() == 2
    client = cache.client
    assert client.exists(*cache.keys.index_keys) == 0
    assert cache.live_count() == 0
