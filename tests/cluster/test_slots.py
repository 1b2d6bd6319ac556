"""Every brand operation stays in the brand's Redis Cluster slot: each command the service sends
declares only keys under the brand's hash tag, and every brand key name it passes as an argument
(the value prefix the paging scripts build names from) carries that tag too. Checked on the wire,
on whatever Redis the suite runs against (a single server too: there nothing else would notice)."""

from __future__ import annotations

import ast
import inspect
import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from redis.crc import key_slot

from brands.cache import (
    SCRIPT_NAMES,
    SCRIPTS,
    BrandCache,
    CacheLimits,
    brands_live_counts,
    brands_ops_totals,
    flush_op_counts,
    ops_history,
    redis_client,
)
from tests.cluster.wire import capture_wire, keys_of, slots_of

# Not operations: constructors and the client property.
NOT_OPERATIONS = {"for_brand", "client"}


def brand_operations(cache: BrandCache) -> dict:
    big = "x" * (cache.limits.max_value_bytes + 1)
    kept: list = []  # the bulk delete's report, for the undo that follows it
    return {
        "set": lambda: cache.set("shop:item:1", {"n": 1}, 60),
        "set_json": lambda: cache.set_json("shop:item:2", '"two"'),
        "set_if_absent": lambda: cache.set_if_absent("shop:item:1", 5),
        "set_if_absent_json": lambda: cache.set_if_absent_json("shop:new", "3"),
        "get": lambda: cache.get("shop:item:1"),
        "get_json": lambda: cache.get_json("shop:item:2"),
        "has": lambda: cache.has("shop:item:2"),
        "increment": lambda: cache.increment("shop:count", 2),
        "increment_json": lambda: cache.increment_json("shop:count", 1, 30),
        "delete": lambda: cache.delete("shop:new"),
        "set_many": lambda: cache.set_many([("shop:many:1", 1), ("shop:many:2", 2)]),
        "value too large (counted by COUNT_REFUSAL)": lambda: cache.set("shop:big", big),
        "prune_expired": cache.prune_expired,
        "live_count": cache.live_count,
        "upgrade_name_index": cache.upgrade_name_index,
        "refused_writes": cache.refused_writes,
        "stored_bytes": cache.stored_bytes,
        "stored_bytes_scanned": cache.stored_bytes_scanned,
        "list_keys": lambda: cache.list_keys(prefix="shop:", limit=2),
        "key_info": lambda: cache.key_info("shop:item:1"),
        "namespace_tree": lambda: cache.namespace_tree("shop:"),
        "count_prefix": lambda: cache.count_prefix("shop:item:"),
        "export_lines": lambda: list(cache.export_lines()),
        "import_lines": lambda: cache.import_lines([json.dumps({"key": "shop:imported", "value": 1})]),
        # Safe editing (the dashboard's versioned writes, restores and bulk operations).
        "set_versioned": lambda: cache.set_versioned(
            "shop:item:1", {"n": 2}, version=cache.key_info("shop:item:1").version),
        "increment_versioned": lambda: cache.increment_versioned(
            "shop:count", 1, version=cache.key_info("shop:count").version),
        "delete_versioned": lambda: cache.delete_versioned(
            "shop:imported", version=cache.key_info("shop:imported").version),
        "restore_key": lambda: cache.restore_key("shop:restored", "1", 2**41),
        "list_keys_natural": lambda: cache.list_keys_natural(prefix="shop:"),
        "tree_level": lambda: cache.tree_level("shop:"),
        "bulk_set_ttl": lambda: cache.bulk_set_ttl("shop:many:", 60, dry_run=False),
        "bulk_copy": lambda: cache.bulk_copy("shop:many:", "shop:copy:", move=False, dry_run=False),
        "bulk_delete": lambda: kept.append(cache.bulk_delete("shop:copy:", dry_run=False, keep_seconds=60)),
        "kept_count": lambda: cache.kept_count(kept[-1].undo_token),
        "bulk_restore": lambda: cache.bulk_restore(kept[-1].undo_token),
        # Exact analysis (issue 12): deleting the biggest keys makes the read rebuild them.
        "analysis": lambda: analysis_with_rebuild(cache),
        "prefix_figures": lambda: cache.prefix_figures("shop:"),
        "analysis_upgrade": cache.analysis_upgrade,
        "delete_prefix": lambda: cache.delete_prefix("shop:item:"),
        # Operation counts (every call above added to the tally): the flush, one script.
        "count_op": lambda: (cache.count_op("read_hit", read="shop:item:1"), flush_op_counts()),
        "delete_all": cache.delete_all,
    }


def analysis_with_rebuild(cache: BrandCache):
    # More keys than the biggest-keys set holds (64), then the biggest deleted.
    cache.set_many([(f"shop:size:{i:02d}", "x" * i) for i in range(80)])
    for i in range(79, 5, -1):
        cache.delete(f"shop:size:{i:02d}")
    analysis = cache.analysis()
    assert analysis.biggest[0].size_bytes == 7 and not analysis.rebuilding_biggest  # "xxxxx"
    return analysis


def public_methods(cls) -> set[str]:
    return {
        name for name, _ in inspect.getmembers(cls)
        if not name.startswith("_") and name not in NOT_OPERATIONS
        and callable(getattr(cls, name)) and not inspect.isclass(getattr(cls, name))
    }


def test_every_brand_operation_sends_only_keys_of_the_brands_slot(brand, monkeypatch):
    cache = BrandCache.for_brand(brand)
    slot = key_slot(cache.keys.stats.encode())
    assert slot != key_slot(b""), "pick a brand whose slot is not the empty key's"
    tag = f"{settings.CACHEADMIN_KEY_PREFIX}:{{{brand.pk}}}:".encode()
    foreign = f"{settings.CACHEADMIN_KEY_PREFIX}:{{".encode()
    operations = brand_operations(cache)
    assert public_methods(BrandCache) <= set(operations), "a new BrandCache operation needs a case here"

    client = redis_client()
    # The operation counters' scripts (brands/cache/opcounts.py) run for BrandCache too.
    expected = {*SCRIPT_NAMES, "OPS_FLUSH", "OPS_DELETE"}
    names_by_sha = {SCRIPTS.get(name, client).sha: name for name in expected}
    scripts_run: set[str] = set()
    for label, operation in operations.items():
        with capture_wire(monkeypatch) as sent:
            operation()
        keyed = [command for command in sent if keys_of(command)]
        assert keyed, f"{label} sent no keyed command"
        for command in keyed:
            assert slots_of(command) == {slot}, (label, command.args[:8])
            for arg in command.args:
                raw = arg if isinstance(arg, bytes) else str(arg).encode()
                if foreign in raw:
                    assert raw.startswith(tag), (label, raw)
            if command.name == "EVALSHA":
                scripts_run.add(names_by_sha[command.args[1]])
    assert scripts_run == expected


def test_every_script_declares_four_keys_under_the_brands_tag():
    """The placeholder for scripts about the whole brand is a real brand key, not ""."""
    limits = CacheLimits(max_keys=1, max_value_bytes=1, default_ttl=1, max_ttl=1)
    cache = BrandCache(4242, limits)
    keys = cache.keys.script_keys()
    assert len(keys) == 4 and len(set(map(key_slot, (k.encode() for k in keys)))) == 1
    assert keys[0] == cache.keys.stats
    assert cache.keys.script_keys("a:b")[0] == cache.keys.value("a:b")


def test_every_script_is_listed():
    # Read from the source (the package's submodules are private): every Lua script constant.
    tree = ast.parse((Path(__file__).resolve().parents[2] / "brands" / "cache" / "scripts.py").read_text())
    sources = {
        node.targets[0].id for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id.isupper() and not node.targets[0].id.startswith("_")  # snippets
        and any(part in ast.unparse(node.value) for part in ("redis.call", "_PRELUDE", "_NAMES +"))
    }
    assert sources == set(SCRIPT_NAMES)


def fake_brands(count: int, first_id: int = 700_000) -> list:
    return [SimpleNamespace(pk=first_id + i, quota=SimpleNamespace(max_keys=10)) for i in range(count)]


def test_cross_brand_usage_sends_each_call_to_its_brands_slot(monkeypatch):
    brands = fake_brands(12)
    brands_live_counts(b.pk for b in brands)  # scripts loaded everywhere they are needed
    with capture_wire(monkeypatch) as sent:
        usage = brands_live_counts(b.pk for b in brands)
    assert set(usage) == {b.pk for b in brands}
    by_slot = Counter()
    for command in sent:
        slots = slots_of(command)
        assert len(slots) == 1, command.args[:8]
        by_slot.update(slots)
    expected = Counter(key_slot(f"{settings.CACHEADMIN_KEY_PREFIX}:{{{b.pk}}}:st".encode()) for b in brands)
    # Two calls per brand (live count, refused writes), each in that brand's slot.
    assert by_slot == Counter({slot: 2 * n for slot, n in expected.items()})


def test_operation_counters_stay_in_each_brands_slot(monkeypatch):
    """Reading one brand's counters, every brand's totals, and a flush of several brands."""
    brands = fake_brands(8, first_id=710_000)
    limits = CacheLimits(max_keys=10, max_value_bytes=10, default_ttl=10, max_ttl=10)
    caches = [BrandCache(b.pk, limits) for b in brands]
    with capture_wire(monkeypatch) as sent:
        for cache in caches:
            cache.count_op("read_miss", read="k")
        flush_op_counts()
        ops_history(brands[0].pk)
        brands_ops_totals(b.pk for b in brands)
    by_slot = Counter()
    for command in sent:
        if command.name == "SCRIPT":  # a load where NOSCRIPT answered (a fresh node)
            continue
        slots = slots_of(command)
        assert len(slots) == 1, command.args[:8]
        by_slot.update(slots)
    tagged = {key_slot(f"{settings.CACHEADMIN_KEY_PREFIX}:{{{b.pk}}}:st".encode()) for b in brands}
    assert set(by_slot) == tagged
    for cache in caches:
        cache.delete_all()


def test_cross_brand_usage_is_one_round_trip_per_node(monkeypatch):
    brands = fake_brands(30)
    brands_live_counts(b.pk for b in brands)
    with capture_wire(monkeypatch) as sent:
        brands_live_counts(b.pk for b in brands)
    assert {command.name for command in sent} == {"EVALSHA", "HMGET"}  # no SCRIPT EXISTS, no GETKEYS
    batches_per_node = {node: {c.batch for c in sent if c.node == node} for node in {c.node for c in sent}}
    assert all(len(batches) == 1 for batches in batches_per_node.values()), batches_per_node
    assert len(sent) == 2 * len(brands)


@pytest.mark.parametrize("script", ["LIVE_COUNT"])
def test_cross_brand_usage_reloads_an_unknown_script_where_it_was_missing(script, monkeypatch):
    brands = fake_brands(10)
    expected = brands_live_counts(b.pk for b in brands)
    loaded = SCRIPTS.get(script, redis_client())
    real_sha = loaded.sha
    # As if every node had lost its script cache (a restart, a replica promoted by a failover):
    # the server's script cache is shared, so it is not flushed; the SHA is made unknown instead.
    loaded.sha = "0" * 40
    try:
        with capture_wire(monkeypatch) as sent:
            assert brands_live_counts(b.pk for b in brands) == expected
        assert loaded.sha == real_sha
    finally:
        loaded.sha = real_sha
    nodes = {c.node for c in sent if c.name == "EVALSHA"}
    loads = Counter(c.node for c in sent if c.name == "SCRIPT")
    # Loaded once on each node that answered NOSCRIPT, then only the failed calls again.
    assert set(loads) == nodes and set(loads.values()) == {1}
    assert sum(1 for c in sent if c.name == "EVALSHA") == 2 * len(brands)
