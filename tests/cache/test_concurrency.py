"""The contract's atomicity promises under real concurrency: 8 processes at once."""

from __future__ import annotations

import multiprocessing

import pytest

from brands.cache import BrandCache
from tests.cache import concurrency_workers

PROCESSES = 8
pytestmark = pytest.mark.concurrency


def run_all(target, brand, per_worker_arg) -> list:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    quota = brand.quota
    limits = {"max_keys": quota.max_keys, "max_value_bytes": quota.max_value_bytes,
              "default_ttl": quota.default_ttl, "max_ttl": quota.max_ttl}
    processes = [
        ctx.Process(target=target, args=(brand.pk, limits, worker, per_worker_arg, barrier, results))
        for worker in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    collected = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return collected


def test_key_limit_is_exact_under_concurrent_fill(brand_factory):
    brand = brand_factory(max_keys=1000)
    written = run_all(concurrency_workers.fill, brand, 250)  # 2,000 attempts for 1,000 slots
    cache = BrandCache.for_brand(brand)
    assert sum(written) == 1000
    assert cache.live_count() == 1000
    assert cache.refused_writes()["key_limit"] == 1000
    # The value keys themselves agree with the index.
    keys = []
    after = None
    while True:
        page = cache.list_keys(after=after, limit=1000)
        keys += page.items
        if not page.next_cursor:
            break
        after = page.next_cursor
    assert len(keys) == 1000


def test_set_if_absent_has_exactly_one_winner(brand):
    outcomes = run_all(concurrency_workers.race_set_if_absent, brand, 50)
    for key_index in range(50):
        winners = [worker_results[key_index] for worker_results in outcomes]
        assert winners.count(True) == 1
    cache = BrandCache.for_brand(brand)
    assert cache.live_count() == 50


def test_concurrent_increments_add_exactly(brand):
    run_all(concurrency_workers.increment, brand, 500)
    assert BrandCache.for_brand(brand).get("counter") == PROCESSES * 500
