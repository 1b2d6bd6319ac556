"""Code run in separate processes by the concurrency tests (spawned, so each has its own
interpreter, its own Django set-up and its own Redis connection, like separate app servers)."""

from __future__ import annotations

import os


def _cache(brand_id: int, limits: dict):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cacheadmin.settings_test")
    import django

    django.setup()
    from brands.cache import BrandCache, CacheLimits

    return BrandCache(brand_id, CacheLimits(**limits))


def fill(brand_id: int, limits: dict, worker: int, count: int, barrier, results) -> None:
    cache = _cache(brand_id, limits)
    barrier.wait()
    written = sum(cache.set(f"w{worker}:k{i}", i) for i in range(count))
    results.put(written)


def race_set_if_absent(brand_id: int, limits: dict, worker: int, keys: int, barrier, results) -> None:
    cache = _cache(brand_id, limits)
    barrier.wait()
    results.put([cache.set_if_absent(f"lock:{k}", worker) for k in range(keys)])


def increment(brand_id: int, limits: dict, worker: int, count: int, barrier, results) -> None:
    cache = _cache(brand_id, limits)
    barrier.wait()
    last = None
    for _ in range(count):
        last = cache.increment("counter")
    results.put(last)
