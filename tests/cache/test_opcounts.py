"""Operations per brand (issue 12, item 2) and hot keys (item 3), on the cache service side:
exact counts for a known sequence, the roll-up, bounded history (TTLs), hot-key order and
trimming, and that counting itself makes no round trip until the flush."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from brands.cache import (
    AUTO_FLUSH_CALLS,
    HOT_BUCKET_S,
    HOT_KEEP_S,
    HOT_KEPT,
    HOUR_KEEP_S,
    MINUTE_KEEP_S,
    BrandCache,
    CacheKeyError,
    brands_ops_totals,
    discard_op_counts,
    flush_op_counts,
    ops_history,
    pending_op_calls,
    redis_client,
)
from tests.support.redis_spy import count_redis_calls

ROOT = Path(__file__).resolve().parents[2]

# The dashboard-side sequence below, and what each call must count (one field per call).
EXPECTED_DASHBOARD = {
    "dashboard:write": 4,  # set a, set a, setIfAbsent c, set d
    "dashboard:read_hit": 2,  # get a, has a
    "dashboard:read_miss": 2,  # get b, has b
    "dashboard:exists": 1,  # setIfAbsent a
    "dashboard:increment": 2,  # n twice
    "dashboard:delete": 2,  # a, and b (absent: del is still a delete)
    "dashboard:refused_invalid_key": 2,  # "a b", 5
    "dashboard:refused_value_size": 1,
    "dashboard:refused_key_limit": 1,
}


@pytest.fixture(autouse=True)
def _fresh_tally():
    discard_op_counts()
    yield
    discard_op_counts()


def run_sequence(cache: BrandCache) -> None:
    assert cache.set("a", 1) and cache.set("a", 2)
    assert cache.get("a") == 2 and cache.get("b") is None
    assert cache.has("a") and not cache.has("b")
    assert not cache.set_if_absent("a", 3) and cache.set_if_absent("c", 3)
    assert cache.increment("n") == 1 and cache.increment("n", 2) == 3
    with pytest.raises(CacheKeyError):
        cache.get("a b")
    with pytest.raises(CacheKeyError):
        cache.set(5, 1)
    assert cache.set("big", "x" * 600) is False  # max_value_bytes 512
    assert cache.delete("a") and cache.delete("b")
    assert cache.set("d", 1)  # keys now: c, n, d = the limit of 3
    assert cache.set("e", 1) is False  # key limit


def test_counts_are_exact_and_wait_for_the_flush(brand_factory, monkeypatch):
    BrandCache.for_brand(brand_factory()).get("warm")
    flush_op_counts()  # the flush script is loaded on this server now
    brand = brand_factory(max_keys=3)
    cache = BrandCache.for_brand(brand)
    run_sequence(cache)
    assert pending_op_calls() == sum(EXPECTED_DASHBOARD.values()) == 17
    assert ops_history(brand.pk).minutes[-1] == {}  # nothing reached Redis yet

    with count_redis_calls(monkeypatch) as calls:
        assert flush_op_counts()
    assert calls.sends == 1  # one round trip for the whole tally
    assert pending_op_calls() == 0

    history = ops_history(brand.pk)
    assert sum_counts(history.minutes) == EXPECTED_DASHBOARD
    assert history.hours[-1] == EXPECTED_DASHBOARD
    assert brands_ops_totals([brand.pk]) == {brand.pk: EXPECTED_DASHBOARD}
    # The refusal counter the monitor already had agrees.
    assert cache.refused_writes() == {"key_limit": 1, "value_size": 1, "total": 2}


def test_several_brands_flush_in_one_pipeline(brand_factory, monkeypatch):
    caches = [BrandCache.for_brand(brand_factory()) for _ in range(3)]
    for cache in caches:
        cache.get("k")
    flush_op_counts()  # scripts loaded
    for cache in caches:
        cache.get("k")
    with count_redis_calls(monkeypatch) as calls:
        assert flush_op_counts()
    assert calls.pipelines == 1 and calls.commands == 0
    assert brands_ops_totals([c.brand_id for c in caches]) == {
        c.brand_id: {"dashboard:read_miss": 2} for c in caches
    }


def test_recording_makes_no_round_trip(cache, monkeypatch):
    assert cache.set("k", 1)
    with count_redis_calls(monkeypatch) as calls:
        for _ in range(10):
            cache.get("k")
    assert calls.sends == 10  # the GETs themselves, nothing more


def sum_counts(rows: list[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for row in rows:
        for name, count in row.items():
            total[name] = total.get(name, 0) + count
    return total


def test_sources_are_apart_and_flushes_add_up(brand):
    dashboard = BrandCache.for_brand(brand)
    script = BrandCache.for_brand(brand, source="script")
    dashboard.get("x")
    script.get("x")
    script.get("x")
    flush_op_counts()
    script.set("x", 1)
    flush_op_counts()
    totals = brands_ops_totals([brand.pk])[brand.pk]
    assert totals == {"dashboard:read_miss": 1, "script:read_miss": 2, "script:write": 1}
    history = ops_history(brand.pk)
    # Per-minute buckets roll up into the hour exactly (both written by each flush).
    assert sum_counts(history.minutes) == history.hours[-1] == totals or (
        # The flushes straddled an hour boundary: the two hours together still agree.
        sum_counts(history.hours[-2:]) == totals
    )


def test_history_is_bounded_by_ttls(cache):
    cache.get("k")
    cache.set("k", 1)
    flush_op_counts()
    client = redis_client()
    history = ops_history(cache.brand_id)
    keys = cache.keys
    minute_ttl = client.ttl(keys.ops_minute(history.minute_s))
    hour_ttl = client.ttl(keys.ops_hour(history.hour_s))
    bucket = history.now_s - history.now_s % HOT_BUCKET_S
    assert 24 * 3600 < minute_ttl <= MINUTE_KEEP_S
    assert 30 * 24 * 3600 < hour_ttl <= HOUR_KEEP_S
    assert 3600 < client.ttl(keys.hot_reads(bucket)) <= HOT_KEEP_S
    assert 3600 < client.ttl(keys.hot_writes(bucket)) <= HOT_KEEP_S
    assert client.ttl(keys.ops_totals) == -1  # a fixed set of fields: bounded without expiry


def test_hot_keys_busiest_first_ties_by_name(cache):
    for key, reads in (("k1", 5), ("k3", 3), ("k2", 3), ("k4", 1)):
        for _ in range(reads):
            cache.get(key)
    for _ in range(4):
        cache.increment("w1")
    cache.set("w2", 1)
    cache.delete("w2")
    cache.set_if_absent("w1", 1)  # found the key: not a write
    flush_op_counts()
    cache.get("k4")
    cache.get("k4")  # a second flush adds to the same bucket
    flush_op_counts()
    history = ops_history(cache.brand_id)
    assert [(hot.key, hot.count) for hot in history.hot_reads] == [("k1", 5), ("k2", 3), ("k3", 3), ("k4", 3)]
    assert [hot.key for hot in ops_history(cache.brand_id, top=2).hot_reads] == ["k1", "k2"]
    assert [(hot.key, hot.count) for hot in ops_history(cache.brand_id).hot_writes] == [("w1", 4), ("w2", 2)]


def test_hot_key_buckets_are_trimmed(cache):
    for i in range(HOT_KEPT + 20):
        for _ in range(1 + i % 3):
            cache.get(f"key:{i}")
    flush_op_counts()
    history = ops_history(cache.brand_id, top=1000)
    bucket = history.now_s - history.now_s % HOT_BUCKET_S
    assert redis_client().zcard(cache.keys.hot_reads(bucket)) == HOT_KEPT
    # The busiest survive the cut: the 46 keys read 2 or 3 times, and 4 of those read once.
    busy = {f"key:{i}" for i in range(HOT_KEPT + 20) if i % 3}
    kept = {hot.key for hot in history.hot_reads}
    assert len(busy) == 46 and busy <= kept and len(kept) == HOT_KEPT


def test_auto_flush_bounds_the_tally(cache):
    for _ in range(AUTO_FLUSH_CALLS + 2):
        cache.get("k")
    assert pending_op_calls() == 2
    assert brands_ops_totals([cache.brand_id])[cache.brand_id] == {"dashboard:read_miss": AUTO_FLUSH_CALLS}


def test_delete_all_removes_the_counters(cache, brand_factory):
    cache.set("k", 1)
    cache.get("k")
    flush_op_counts()
    client = redis_client()
    assert client.exists(cache.keys.ops_totals)
    other = BrandCache.for_brand(brand_factory())
    other.get("k")
    cache.get("k")  # counted, not sent yet: deleting the brand drops it
    cache.delete_all()
    assert pending_op_calls() == 1  # the other brand's call stays
    flush_op_counts()
    pattern = cache.keys.ops_base.replace("{", "[{]").replace("}", "[}]") + "*"
    assert list(client.scan_iter(match=pattern)) == []
    assert brands_ops_totals([other.brand_id])[other.brand_id] == {"dashboard:read_miss": 1}


def test_flush_with_redis_down_drops_the_counts(cache, dead_redis):
    cache.get("k")  # soft failure: not counted (nothing answered)
    assert pending_op_calls() == 0
    cache.count_op("refused_invalid_key")
    assert flush_op_counts() is False
    assert pending_op_calls() == 0


def test_a_process_sends_what_it_counted_when_it_exits(cache):
    """A management command (here a shell) that counts fewer than AUTO_FLUSH_CALLS calls."""
    code = (
        "from brands.cache import BrandCache, CacheLimits\n"
        f"cache = BrandCache({cache.brand_id}, CacheLimits(10, 512, 60, 60))\n"
        "cache.get('a'); cache.set('a', 1); cache.get('a')\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cacheadmin.settings_test"}
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert brands_ops_totals([cache.brand_id])[cache.brand_id] == {
        "dashboard:read_miss": 1, "dashboard:write": 1, "dashboard:read_hit": 1,
    }


def test_a_failing_flush_never_fails_the_call_that_triggered_it(cache, caplog):
    # A real Redis error inside the flush script: the totals key holds a string (WRONGTYPE).
    redis_client().set(cache.keys.ops_totals, "not a hash")
    assert cache.set("k", 1)
    for _ in range(AUTO_FLUSH_CALLS):
        assert cache.get("k") == 1  # the call that triggers the auto flush still answers
    assert pending_op_calls() == 1  # flushed (and dropped) at the 1,000th call
    assert "operation counts could not be sent" in caplog.text
