"""Exact analysis (issue 12): every figure the write scripts keep equals a brute-force recount
made by reading every key, after every kind of write the service has."""

from __future__ import annotations

import json
import random
import time

import pytest

from brands.cache import (
    ANALYSIS_TOPK_CAP,
    BrandCache,
    BrandKeys,
    CacheKeyError,
    fill_brand_layout,
)
from tests.cache.analysis_support import assert_analysis_matches, recount

NAMESPACES = ["user:", "sess:", "cart:item:", "a:", "", "x-y.z:", ":"]
# Well inside the TTL histogram's buckets (bounds 60/300/900/3600 s) for minutes of test time.
TTLS = [50, 200, 600, 2000, 5000]


@pytest.fixture
def dash(brand_factory) -> BrandCache:
    brand = brand_factory(max_keys=2000, max_value_bytes=5000, default_ttl=600, max_ttl=7200)
    return BrandCache.for_brand(brand, raise_unavailable=True)


def random_text(rng: random.Random) -> str:
    # Mostly small values, some above 2046 bytes (their size is kept beside the index).
    length = rng.choice([1, 3, 10, 40, 100, 300, 500, 2044, 2045, 2046, 2047, 3000, 4990])
    length = max(1, length - rng.randrange(0, 3))
    # ensure_ascii off: "é" is 2 bytes of UTF-8, so the text is `length` bytes (at least 3).
    return json.dumps("é" * (length // 4) + "x" * max(length - 2 - 2 * (length // 4), 0), ensure_ascii=False)


def random_name(rng: random.Random) -> str:
    return f"{rng.choice(NAMESPACES)}{rng.choice(['k', 'key', 'n', 'Z_'])}{rng.randrange(60)}"


def test_a_fresh_brand_is_all_zeros(dash):
    analysis = dash.analysis()
    assert analysis.live_keys == analysis.stored_bytes == analysis.namespace_count == 0
    assert analysis.biggest == [] and analysis.complete
    assert sum(b.count for b in analysis.size_histogram) == 0


def test_every_write_kind_agrees_with_a_recount(dash):
    rng = random.Random(1212)
    for _ in range(300):
        dash.set_json(random_name(rng), random_text(rng), rng.choice(TTLS))
    assert_analysis_matches(dash)

    # Overwrites with other sizes, set_if_absent, increments (new, existing, with and without a TTL).
    for _ in range(150):
        name = random_name(rng)
        op = rng.randrange(4)
        if op == 0:
            dash.set_json(name, random_text(rng), rng.choice(TTLS))
        elif op == 1:
            dash.set_if_absent_json(name, random_text(rng), rng.choice(TTLS))
        else:
            counter = f"count:{rng.randrange(20)}"
            dash.increment(counter, rng.choice([1, 0.5, 12345.678, -3]), rng.choice([None, 600]))
    assert_analysis_matches(dash)

    # Deletes, versioned writes, a delete by prefix.
    for _ in range(40):
        dash.delete(random_name(rng))
    info = dash.key_info("count:3") or dash.key_info(dash.list_keys(prefix="count:").items[0].key)
    assert dash.increment_versioned(info.key, 7, version=info.version).ok
    some = dash.list_keys(prefix="user:", limit=3).items
    assert dash.set_versioned(some[0].key, "x" * 700, version=some[0].version).ok
    assert dash.delete_versioned(some[1].key, version=some[1].version).ok
    assert dash.delete_prefix("sess:") > 0
    assert_analysis_matches(dash)

    # Bulk delete that keeps its keys, restored; bulk TTL; copy and rename (overwriting too).
    report = dash.bulk_delete("a:", dry_run=False, keep_seconds=60)
    assert report.changed > 0
    assert_analysis_matches(dash)
    assert dash.bulk_restore(report.undo_token).changed == report.changed
    assert_analysis_matches(dash)
    dash.bulk_set_ttl("cart:", 2000, dry_run=False)
    dash.bulk_copy("user:", "copy:", move=False, dry_run=False)
    dash.bulk_copy("copy:", "user:", move=True, overwrite=True, dry_run=False)
    dash.bulk_copy(":", "colon:", move=True, dry_run=False)
    assert_analysis_matches(dash)

    # Restore of a deleted key (the audit's undo), and an import.
    victim = dash.list_keys(prefix="x-y.z:", limit=1).items[0]
    dash.delete(victim.key)
    assert dash.restore_key(victim.key, victim.value_json, victim.expires_at_ms).ok
    lines = [json.dumps({"key": random_name(rng), "value": "v" * rng.randrange(1, 3000),
                         "ttl": rng.choice(TTLS)}) for _ in range(120)]
    dash.import_lines(lines)
    assert_analysis_matches(dash)


def test_expired_keys_are_subtracted_when_pruned(dash):
    rng = random.Random(7)
    for i in range(60):
        dash.set_json(f"short:{i}", random_text(rng), 1)
        dash.set_json(f"long:{i}", random_text(rng), 600)
    dash.set_json("short:big", json.dumps("b" * 4000), 1)
    assert dash.analysis().stored_bytes > 0
    time.sleep(1.3)
    # A write prunes some (a batch), the reading prunes the rest: both subtract sizes whose
    # values Redis already dropped.
    dash.set("trigger", 1, 600)
    assert_analysis_matches(dash)
    after = dash.analysis()
    assert after.live_keys == 61
    assert not dash.client.hexists(BrandKeys.for_brand(dash.brand_id).analysis_keys[5], "short:big")


def test_biggest_keys_are_rebuilt_when_deletes_shrink_them(dash, monkeypatch):
    for i in range(200):
        dash.set_json(f"k:{i:03d}", json.dumps("v" * (i * 10 + 1)), 600)
    assert_analysis_matches(dash)
    # Delete the biggest ones: the kept set shrinks below ten, a rebuild starts.
    for i in range(199, 199 - ANALYSIS_TOPK_CAP + 5, -1):
        dash.delete(f"k:{i:03d}")
    # Small steps, one per reading, with writes in between (walked and unwalked names).
    monkeypatch.setattr("brands.cache.analysis.TOPK_BATCH", 7)
    monkeypatch.setattr("brands.cache.analysis.TOPK_STEPS_PER_READ", 1)
    rng = random.Random(3)
    rebuilding_seen = False
    for round_ in range(60):
        analysis = dash.analysis()
        rebuilding_seen |= analysis.rebuilding_biggest
        # While it runs, what is shown is still exact, only shorter.
        counted = recount(dash)
        top = sorted(counted.sizes.values(), reverse=True)
        assert [b.size_bytes for b in analysis.biggest] == top[:len(analysis.biggest)]
        name = f"k:{rng.randrange(140):03d}"
        if round_ % 3 == 0:
            dash.delete(name)
        else:
            dash.set_json(name, json.dumps("w" * rng.randrange(1, 1500)), 600)
    assert rebuilding_seen
    monkeypatch.setattr("brands.cache.analysis.TOPK_STEPS_PER_READ", 1000)
    assert_analysis_matches(dash)
    assert not dash.analysis().rebuilding_biggest and len(dash.analysis().biggest) == 10


def test_upgrade_accounts_keys_written_before_the_accounting(dash):
    keys = BrandKeys.for_brand(dash.brand_id)
    old = [f"old:{i}" for i in range(150)] + [f"plain{i}" for i in range(20)]
    # The layout as the scripts wrote it before: integer scores, no analysis.
    fill_brand_layout(dash.client, keys, old, json.dumps("o" * 50), ttl_ms=600_000, index_ttl_ms=3_600_000)
    dash.client.persist(keys.expiry_index)
    dash.client.persist(keys.name_index)
    dash.set_json("new:1", json.dumps("n" * 300), 600)
    dash.set_json("old:3", json.dumps("rewritten"), 600)  # an old key written again: accounted now
    dash.delete("old:4")
    analysis = dash.analysis()
    assert not analysis.complete and analysis.unaccounted_keys == 168
    # The upgrade in small batches, with writes between them.
    upgraded = 0
    start = b"-"
    while True:
        last, done = dash._run_admin("ANALYSIS_UPGRADE", [keys.value_prefix, start, 25])
        upgraded += int(done)
        dash.set_json(f"old:{upgraded % 150}", json.dumps("again" * (upgraded % 7)), 600)
        if not last:
            break
        start = b"(" + last
    assert dash.analysis_upgrade() == 0  # nothing left: the upgrade is idempotent
    assert_analysis_matches(dash)


@pytest.mark.parametrize("bad", ["a b", "x" * 201, "{tag}", "é", "\n", "k/../"])
def test_prefix_figures_refuse_bad_prefixes_clearly(dash, bad):
    dash.set("k", 1)
    with pytest.raises(CacheKeyError, match="Invalid prefix"):
        dash.prefix_figures(bad)
    assert dash.live_count() == 1


def test_prefix_figures_count_across_batches(dash, monkeypatch):
    monkeypatch.setattr("brands.cache.analysis.PREFIX_BATCH", 13)
    for i in range(100):
        dash.set_json(f"p:{i}", json.dumps("z" * i), 600)
        dash.set_json(f"q:{i}", "1", 600)
    figures = dash.prefix_figures("p:")
    assert (figures.keys, figures.bytes) == (100, sum(i + 2 for i in range(100)))
    assert dash.prefix_figures("p:1").keys == 11
    assert dash.prefix_figures("nothing").keys == 0
