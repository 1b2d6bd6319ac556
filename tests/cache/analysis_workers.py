"""Writers run in separate processes by the analysis concurrency test (spawned: each has its own
interpreter, Django set-up and Redis connection, like separate app servers)."""

from __future__ import annotations

import os
import random


def random_writes(brand_id: int, limits: dict, worker: int, count: int, barrier, results) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cacheadmin.settings_test")
    import django

    django.setup()
    from brands.cache import BrandCache, CacheLimits

    cache = BrandCache(brand_id, CacheLimits(**limits))
    rng = random.Random(worker)
    barrier.wait()
    for i in range(count):
        # A small shared key space, so the writers keep overwriting and deleting each other's keys.
        name = f"{rng.choice(['u:', 's:', 'big:', ''])}{rng.randrange(40)}"
        op = rng.randrange(10)
        if op < 5:
            cache.set(name, "v" * rng.choice([1, 50, 400, 2100, 3000]), 600)
        elif op < 7:
            cache.delete(name)
        elif op < 8:
            cache.increment(f"n:{rng.randrange(5)}", 1)
        elif op < 9:
            cache.set_if_absent(name, "w" * rng.randrange(1, 100), 600)
        elif i % 25 == 0:
            cache.delete_prefix(rng.choice(["u:1", "s:", "big:2"]))
    results.put(worker)
