"""Fair scheduling under a flood, for ``manage.py cache_bench`` (issue 10; docs/contract.md#fair-scheduling).

One process, one pool of the default size (settings.SCRIPT_WORKERS plus the spare), every
execution through the scheduler (the brand's slots in Redis, the worker wait, statistics),
exactly as the console runs them:

1. baseline: a quiet brand runs a trivial script (``cache.increment('n'); 1``) alone, one run
   after another; its latency as the caller sees it, p50 / p95;
2. flood: another brand runs ``while (true) {}`` from FLOOD_THREADS threads for FLOOD_SECONDS,
   each thread sending its next run as soon as it has an answer (plus CLIENT_GAP_S, the least a
   request over HTTP costs its client); meanwhile the quiet brand keeps running its script.

The quiet brand's p95 during the flood is compared with its p50 alone measured in the same run
(target of issue 10: at most 10x, and under 150 ms, with none of its runs failing); the flooding
brand's outcomes are counted (timeouts, refused as busy, refused for its time-limit budget).
Both brand ids do not exist in the database; their keys and counters are deleted at the end.
"""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from collections import Counter

from django.conf import settings

from brands.cache import BrandCache, CacheLimits, CacheUnavailable
from brands.models import QuotaSettings
from brands.scripting import ScriptPool, build_job, execute_job

QUIET_BRAND_ID = 900_210
FLOOD_BRAND_ID = 900_211
QUIET_SCRIPT = "cache.increment('n'); 1"
FLOOD_SCRIPT = "while (true) {}"
FLOOD_THREADS = 6
FLOOD_SECONDS = 10.0
CLIENT_GAP_S = 0.005
TARGET_RATIO = 10.0
TARGET_P95_MS = 150.0


def _quantiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    if len(ordered) < 2:
        return {"runs": len(ordered), "p50_ms": round(ordered[0], 3) if ordered else None}
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "runs": len(ordered),
        "p50_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(cuts[94], 3),
        "max_ms": round(ordered[-1], 3),
    }


def _timed(job: dict, pool: ScriptPool) -> tuple[float, object]:
    started = time.perf_counter()
    execution = execute_job(job, cap=1, pool=pool)
    return (time.perf_counter() - started) * 1000, execution


def run_fairness_benchmark(quick: bool) -> dict:
    """The figures; prints nothing."""
    return measure(alone_runs=200 if quick else 500, flood_seconds=FLOOD_SECONDS)


def measure(*, alone_runs: int, flood_seconds: float, flood_threads: int = FLOOD_THREADS) -> dict:
    quota = QuotaSettings()  # the defaults: 1,000 ms time limit, one run in flight per brand
    quiet = build_job(brand_id=QUIET_BRAND_ID, quota=quota, code=QUIET_SCRIPT)
    flood = build_job(brand_id=FLOOD_BRAND_ID, quota=quota, code=FLOOD_SCRIPT)
    pool = ScriptPool(int(getattr(settings, "SCRIPT_WORKERS", 2)))
    try:
        if not pool.wait_ready():
            raise RuntimeError("the script workers did not start")
        for _ in range(pool.processes * 5):  # warm every worker up
            _timed(quiet, pool)

        alone = []
        for _ in range(alone_runs):
            elapsed, execution = _timed(quiet, pool)
            if not execution.result["ok"]:
                raise RuntimeError(f"the quiet script failed alone: {execution.result['error']}")
            alone.append(elapsed)

        stop = threading.Event()
        flood_outcomes: Counter[str] = Counter()
        lock = threading.Lock()

        def flooder() -> None:
            while not stop.is_set():
                _, execution = _timed(flood, pool)
                with lock:
                    flood_outcomes[execution.outcome] += 1
                time.sleep(CLIENT_GAP_S)

        threads = [threading.Thread(target=flooder, name=f"flood-{i}") for i in range(flood_threads)]
        for thread in threads:
            thread.start()
        during, failures = [], Counter()
        deadline = time.monotonic() + flood_seconds
        try:
            while time.monotonic() < deadline:
                elapsed, execution = _timed(quiet, pool)
                during.append(elapsed)
                if not execution.result["ok"]:
                    failures[execution.outcome] += 1
        finally:
            stop.set()
            for thread in threads:
                thread.join()

        alone_q, during_q = _quantiles(alone), _quantiles(during)
        ratio = during_q["p95_ms"] / alone_q["p50_ms"]
        return {
            "workers": pool.size,
            "spare_workers": pool.spare,
            "quiet_alone": alone_q,
            "quiet_during_flood": {**during_q, "failed": sum(failures.values()),
                                   "failed_by_outcome": dict(failures)},
            "p95_during_over_p50_alone": round(ratio, 2),
            "flood": {"threads": flood_threads, "seconds": flood_seconds,
                      "runs": sum(flood_outcomes.values()), "by_outcome": dict(flood_outcomes)},
            "targets": {
                f"quiet p95 during the flood <= {TARGET_RATIO:g}x its p50 alone": ratio <= TARGET_RATIO,
                f"quiet p95 during the flood < {TARGET_P95_MS:g} ms": during_q["p95_ms"] < TARGET_P95_MS,
                "no quiet run failed": not failures,
            },
        }
    finally:
        pool.close()
        limits = CacheLimits.from_quota(quota)
        with contextlib.suppress(CacheUnavailable):  # the keys expire within the hour anyway
            for brand_id in (QUIET_BRAND_ID, FLOOD_BRAND_ID):
                BrandCache(brand_id, limits).delete_all()


def format_fairness(figures: dict) -> list[str]:
    """The report's lines for these figures."""
    alone, during, flood = figures["quiet_alone"], figures["quiet_during_flood"], figures["flood"]
    lines = [
        f"Fair scheduling: {figures['workers']} workers + {figures['spare_workers']} spare; a quiet brand's "
        f"'{QUIET_SCRIPT}' while another brand runs '{FLOOD_SCRIPT}' from {flood['threads']} threads "
        f"for {flood['seconds']:g} s",
        f"  quiet brand alone:          p50 {alone['p50_ms']:.2f} ms, p95 {alone['p95_ms']:.2f} ms "
        f"({alone['runs']} runs)",
        f"  quiet brand during flood:   p50 {during['p50_ms']:.2f} ms, p95 {during['p95_ms']:.2f} ms, "
        f"max {during['max_ms']:.1f} ms ({during['runs']} runs, {during['failed']} failed)",
        f"  p95 during / p50 alone:     {figures['p95_during_over_p50_alone']:.2f}x",
        "  flooding brand's runs:      " + ", ".join(
            f"{outcome} {count}" for outcome, count in sorted(flood["by_outcome"].items())
        ) + f" ({flood['runs']} in all)",
    ]
    lines += [f"  {'PASS' if ok else 'MISS'}  {name}" for name, ok in figures["targets"].items()]
    return lines
