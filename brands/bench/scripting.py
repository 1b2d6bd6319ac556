"""Script execution benchmarks for ``manage.py cache_bench`` (part 2 of 3), end to end through the
worker pool.

Figures: the median and 99th percentile of one execution as a caller sees it (job sent, fresh
QuickJS context, prelude, script, result back) for a trivial script and for a script making 20
cache operations (the default budget), and executions per second with the default pool size
(settings.SCRIPT_WORKERS) kept busy by twice as many calling threads.

The bench runs its own pool of the default size (so a pool already serving this process is
neither disturbed nor counted) and writes only keys of brand id 900200, which does not exist in
the database, with a 60 s TTL; they are deleted at the end.
"""

from __future__ import annotations

import contextlib
import statistics
import threading
import time

from django.conf import settings

from brands.cache import BrandCache, CacheLimits, CacheUnavailable
from brands.models import QuotaSettings
from brands.scripting import ScriptPool, build_job

BENCH_BRAND_ID = 900_200
TRIVIAL = "1 + 1"
# 20 operations, a realistic mix: 5 rounds of increment, get, setIfAbsent, has.
TWENTY_OPS = """
for (var i = 0; i < 5; i++) {
  cache.increment('bench:views:' + i, 1, 60);
  cache.get('bench:views:' + i);
  cache.setIfAbsent('bench:seen:' + i, {at: i}, 60);
  cache.has('bench:seen:' + i);
}
"""


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98] if len(samples) > 1 else samples[0]


def _latency(pool: ScriptPool, job: dict, runs: int) -> dict:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        result = pool.execute(job, timeout_ms=job["timeout_ms"])
        samples.append((time.perf_counter() - started) * 1000)
        if not result["ok"]:
            raise RuntimeError(f"benchmark script failed: {result['error']}")
    return {
        "runs": runs,
        "median_ms": round(statistics.median(samples), 3),
        "p99_ms": round(_p99(samples), 3),
        "min_ms": round(min(samples), 3),
    }


def _throughput(pool: ScriptPool, job: dict, runs: int, threads: int) -> float:
    remaining = [runs]
    lock = threading.Lock()
    failures: list[dict] = []

    def worker() -> None:
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            result = pool.execute(job, timeout_ms=job["timeout_ms"])
            if not result["ok"]:
                failures.append(result["error"])

    started = time.perf_counter()
    pool_threads = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool_threads:
        thread.start()
    for thread in pool_threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"benchmark script failed: {failures[0]}")
    return round(runs / elapsed, 1)


def run_script_benchmarks(quick: bool) -> dict:
    """Script execution figures through the pool; prints nothing."""
    return measure(runs=200 if quick else 1000, throughput_runs=300 if quick else 2000)


def measure(*, runs: int, throughput_runs: int) -> dict:
    size = int(getattr(settings, "SCRIPT_WORKERS", 2))
    quota = QuotaSettings()  # the defaults, without a row: the bench brand does not exist
    trivial = build_job(brand_id=BENCH_BRAND_ID, quota=quota, code=TRIVIAL)
    twenty = build_job(brand_id=BENCH_BRAND_ID, quota=quota, code=TWENTY_OPS)

    started = time.perf_counter()
    pool = ScriptPool(size)
    try:
        # Wait for every worker (start-up is not what is measured), then warm each one up.
        pool.wait_ready()
        warm = [threading.Thread(target=pool.execute, args=(trivial,), kwargs={"timeout_ms": 60_000})
                for _ in range(size)]
        for thread in warm:
            thread.start()
        for thread in warm:
            thread.join()
        pool_start_ms = round((time.perf_counter() - started) * 1000, 1)
        check = pool.execute(twenty, timeout_ms=twenty["timeout_ms"])
        if not check["ok"] or check["ops"] != 20:
            raise RuntimeError(f"the 20-operation script did not make 20 operations: {check}")
        for _ in range(size * 5):
            pool.execute(trivial, timeout_ms=trivial["timeout_ms"])

        figures = {
            "workers": size,
            "pool_start_ms": pool_start_ms,
            "trivial": _latency(pool, trivial, runs),
            "ops20": _latency(pool, twenty, runs),
        }
        threads = size * 2
        figures["throughput"] = {
            "threads": threads,
            "trivial_exec_per_s": _throughput(pool, trivial, throughput_runs, threads),
            "ops20_exec_per_s": _throughput(pool, twenty, throughput_runs, threads),
        }
        return figures
    finally:
        pool.close()
        with contextlib.suppress(CacheUnavailable):  # the keys expire within a minute anyway
            BrandCache(BENCH_BRAND_ID, CacheLimits.from_quota(quota)).delete_all()
