"""Measuring tools shared by the benchmarks: paired timings, percentiles, round trips as Redis
counts them, and the signal handling that lets a run always clean up after itself."""

from __future__ import annotations

import contextlib
import gc
import math
import signal
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from brands.cache import monitor_round_trips, reads_processed


def paired_median_ns(first: Callable[[], Any], second: Callable[[], Any], n: int) -> tuple[float, float]:
    """Calls alternate one by one (first, second, first, ...), each timed on its own, so that a
    burst of load on a shared machine lands on both sides alike. Medians of each side."""
    clock = time.perf_counter_ns
    a, b = [0] * n, [0] * n
    for i in range(n):
        start = clock()
        first()
        middle = clock()
        second()
        a[i], b[i] = middle - start, clock() - middle
    return statistics.median(a), statistics.median(b)


def timings_ms(fn: Callable[[], Any], n: int) -> list[float]:
    clock = time.perf_counter_ns
    times = []
    for _ in range(n):
        start = clock()
        fn()
        times.append((clock() - start) / 1e6)
    return times


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` 0.95 for p95) of at least one sample."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


RT_CALLS, RT_MIN_REPS, RT_MAX_REPS = 50, 3, 10
RT_MAX_CALLS = RT_CALLS * (RT_MAX_REPS + 1)


def counter_round_trips(client, fn: Callable[[], Any], calls: int) -> float:
    """Server-wide socket reads per call (total_reads_processed, minus the INFO that reads it),
    the minimum over repetitions: other clients can only add to it."""
    best: float | None = None
    for rep in range(RT_MAX_REPS):
        before = reads_processed(client)
        for _ in range(calls):
            fn()
        after = reads_processed(client)
        reads = (after - before - 1) / calls
        best = reads if best is None else min(best, reads)
        if rep + 1 >= RT_MIN_REPS and best == int(best):
            break
    return best


def round_trips(client, fn: Callable[[], Any], prefix: str, *, calls: int = RT_CALLS) -> dict:
    """Round trips per call of ``fn``, measured by Redis: from MONITOR (attributed to this run)
    when the server allows it, else from the server-wide read counter."""
    counters = counter_round_trips(client, fn, calls)
    monitored = monitor_round_trips(client, fn, calls, prefix)
    if monitored is None:
        return {"round_trips": counters, "method": "server counters", "server_counter_round_trips": counters}
    return {**monitored, "method": "MONITOR", "server_counter_round_trips": counters}


@contextlib.contextmanager
def interrupts_become_exceptions() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt (like Ctrl-C) so that cleanup in ``finally`` runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def uninterruptible() -> Iterator[None]:
    """A second Ctrl-C must not cut the cleanup short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
