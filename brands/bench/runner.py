"""One ``cache_bench`` run: the environment, the cache benchmarks, then the script and page
benchmarks, in one process against the configured Redis."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

from brands.bench.bulk import bulk_benchmarks
from brands.bench.cache import run_cache_benchmarks
from brands.bench.config import BenchConfig
from brands.bench.fairness import run_fairness_benchmark
from brands.bench.monitor import monitor_benchmark
from brands.bench.pages import page_benchmarks
from brands.bench.scripting import run_script_benchmarks
from brands.cache import is_cluster, redis_client, server_environment

# Run after the cache benchmarks; a failure of one is reported in its place and never loses the
# other figures or skips their cleanup.
OTHER_BENCHMARKS: dict[str, Callable[[bool], dict]] = {
    "scripting": run_script_benchmarks,
    "pages": page_benchmarks,
    "fairness": run_fairness_benchmark,
    "monitor": monitor_benchmark,
    "bulk": bulk_benchmarks,
}


def environment(client) -> dict:
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        memory = None
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "python": sys.version.split()[0],
        **server_environment(client),
        "redis_connection": ("REDIS_URL, Redis Cluster" if is_cluster(client)
                             else "embedded, unix socket" if settings.EMBEDDED_REDIS else "REDIS_URL"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "memory_gib": round(memory, 1) if memory else None,
    }


def _other(benchmark: Callable[[bool], dict], quick: bool) -> dict:
    try:
        return benchmark(quick)
    except Exception as exc:  # its failure must not lose the other figures
        return {"error": f"{type(exc).__name__}: {exc}"}


def run(config: BenchConfig, progress: Callable[[str], None] = lambda message: None) -> dict:
    client = redis_client()
    started = time.perf_counter()
    result: dict[str, Any] = {"environment": environment(client)}
    result.update(run_cache_benchmarks(config, client, progress))
    result["duration_s"] = round(time.perf_counter() - started, 1)
    if config.other_benchmarks:
        result["other"] = {}
        for label, benchmark in OTHER_BENCHMARKS.items():
            progress(f"Other benchmark: {label}")
            result["other"][label] = _other(benchmark, config.quick)
    return result


def run_fairness_only(quick: bool) -> dict:
    """``cache_bench --fairness``: the environment and the fair-scheduling figures alone."""
    return {"environment": environment(redis_client()), "fairness": run_fairness_benchmark(quick)}


def run_monitor_only(quick: bool) -> dict:
    """``cache_bench --monitor``: the environment and the staff monitor at 10,000 brands alone."""
    return {"environment": environment(redis_client()), "monitor": monitor_benchmark(quick)}
