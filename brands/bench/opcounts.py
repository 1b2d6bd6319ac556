"""Operation counting (issue 12, items 2 and 3) against raw redis-py (``cache_bench``, within the
cache part's run, on its brand and keys).

Counting itself makes no round trip: each call adds to a tally in Python, and the tally goes to
Redis once per script execution (one EVALSHA). The honest price of a call is then its own time,
recording included, plus its share of that flush. A script may make at most 20 cache calls (the
contract's default ``max_ops_per_execution``), so here every 20th service call is followed by a
real flush of exactly what those 20 calls counted, timed on its own. Raw and service calls
alternate one by one as in the per-call part (raw first on every other round), so that a burst
of load lands on both sides alike; a call's counted cost is the median service call plus the
median flush / 20, the ratio that over the median raw call, and the reported ratio the median
of the rounds'. (Timing whole blocks of 20 calls instead lets every burst of a shared machine
into the figure; medians of single calls and flushes keep it out, on both sides.) A script with
fewer calls shares the flush among fewer calls: the flush's own time is reported, as are the
Python cost of recording one call and the hot-key part of a flush.

A script run does not even pay a round trip of its own: the scheduler sends the run's counts in
the pipeline that gives its slot back. That cost is measured too (the release with a get-only
run's counts minus the release alone) and reported as the "script path" ratio: the median
service call plus that difference / 20. The dashboard pays the flush proper, once per request.

The flush writes the bench brand's counters under the run's unique prefix; they are deleted with
everything else at the end (their minute and hour hashes would otherwise keep for 24 h / 30 days
after a ``kill -9``, unlike the rest of the bench's keys).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from brands.bench.config import BenchConfig
from brands.bench.measure import no_gc
from brands.cache import BrandCache, discard_op_counts, flush_op_counts, script_slot_release, take_op_counts

FLUSH_EVERY = 20  # the contract's default max_ops_per_execution: one flush per full execution
TARGETS = {"get_ratio": 1.3, "set_ratio": 1.5}


def _paired_with_flush(raw_fn: Callable[[], object], service_fn: Callable[[], object], n: int,
                       raw_first: bool) -> tuple[float, float, float]:
    """Medians (ns) of raw calls, service calls and the flush after every FLUSH_EVERY service
    calls."""
    clock = time.perf_counter_ns
    raw, service, flushes = [0] * n, [0] * n, []
    first, second = (raw_fn, service_fn) if raw_first else (service_fn, raw_fn)
    for i in range(n):
        start = clock()
        first()
        middle = clock()
        second()
        end = clock()
        if raw_first:
            raw[i], service[i] = middle - start, end - middle
        else:
            service[i], raw[i] = middle - start, end - middle
        if (i + 1) % FLUSH_EVERY == 0:
            start = clock()
            flush_op_counts()
            flushes.append(clock() - start)
    flush_op_counts()
    return statistics.median(raw), statistics.median(service), statistics.median(flushes)


def _median_us(fn: Callable[[], object], n: int) -> float:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(n):
        start = clock()
        fn()
        samples.append(clock() - start)
    return statistics.median(samples) / 1000


def run_counting(cache: BrandCache, pairs: dict[str, tuple[Callable, Callable]],
                 config: BenchConfig) -> dict:
    """``pairs``: op -> (raw redis-py call, service call), the per-call part's own get and set."""
    calls = max(FLUSH_EVERY * 5, config.calls - config.calls % FLUSH_EVERY)
    discard_op_counts()
    result: dict = {"flush_every": FLUSH_EVERY, "calls_per_round": calls}
    per_round: dict[str, dict[str, list[float]]] = {
        op: {"raw": [], "counted": [], "flush": [], "ratio": []} for op in pairs
    }
    with no_gc():
        for raw_fn, service_fn in pairs.values():
            _paired_with_flush(raw_fn, service_fn, FLUSH_EVERY * 5, True)  # warm-up
        for round_no in range(config.rounds):
            for op, (raw_fn, service_fn) in pairs.items():
                raw_ns, service_ns, flush_ns = _paired_with_flush(raw_fn, service_fn, calls,
                                                                  raw_first=round_no % 2 == 0)
                counted_ns = service_ns + flush_ns / FLUSH_EVERY
                per_round[op]["raw"].append(raw_ns / 1000)
                per_round[op]["counted"].append(counted_ns / 1000)
                per_round[op]["flush"].append(flush_ns / 1000)
                per_round[op]["ratio"].append(counted_ns / raw_ns)
    for op, figures in per_round.items():
        result[op] = {
            "raw_us": round(statistics.median(figures["raw"]), 1),
            "counted_us": round(statistics.median(figures["counted"]), 1),
            "flush_us": round(statistics.median(figures["flush"]), 1),
            "ratio": round(statistics.median(figures["ratio"]), 3),
            "rounds_ratio": [round(r, 3) for r in figures["ratio"]],
        }

    # The parts on their own: recording one call (Python only), and one flush of a full
    # execution's tally (20 calls on 20 distinct keys) with and without its hot-key part.
    n = max(200, config.calls)
    result["record_us"] = round(_median_us(lambda: cache.count_op("read_hit", read="bench:get"), n), 2)
    discard_op_counts()

    def execution(hot: bool) -> Callable[[], object]:
        def run() -> None:
            for i in range(FLUSH_EVERY // 2):
                cache.count_op("read_hit", read=f"bench:hot:{i}" if hot else None)
                cache.count_op("write", wrote=f"bench:hot:{i}" if hot else None)
            flush_op_counts()
        return run

    with no_gc():
        result["flush_us"] = round(_median_us(execution(True), max(50, n // 20)), 1)
        result["flush_no_hot_keys_us"] = round(_median_us(execution(False), max(50, n // 20)), 1)
    result["hot_keys_us"] = round(result["flush_us"] - result["flush_no_hot_keys_us"], 1)

    # What a script run actually pays: its counts ride in the pipeline that gives its scheduling
    # slot back, so their cost is the release with them minus the release alone (a get-only
    # run's counts: one counter, one hot key), timed alternately.
    def counts_of_a_run() -> list:
        for _ in range(FLUSH_EVERY):
            cache.count_op("read_hit", read="bench:get")
        return take_op_counts()

    def release(op_counts: list | None) -> None:
        script_slot_release(cache.brand_id, None, outcome="ok", duration_ms=1.0, op_counts=op_counts)

    alone, riding = [], []
    clock = time.perf_counter_ns
    with no_gc():
        for i in range(max(100, n // 10)):
            payload = counts_of_a_run()
            for with_counts in ((False, True) if i % 2 == 0 else (True, False)):
                start = clock()
                release(payload if with_counts else None)
                (riding if with_counts else alone).append(clock() - start)
    result["release_us"] = round(statistics.median(alone) / 1000, 1)
    result["release_with_counts_us"] = round(statistics.median(riding) / 1000, 1)
    extra = max(0.0, result["release_with_counts_us"] - result["release_us"])
    result["script_run_extra_us"] = round(extra, 1)
    for op in pairs:
        f = result[op]
        f["script_path_ratio"] = round((f["counted_us"] - f["flush_us"] / FLUSH_EVERY + extra / FLUSH_EVERY)
                                       / f["raw_us"], 3)
    return result


def counting_targets(counting: dict) -> list[dict]:
    return [
        {"name": f"service {op} with counting (1 flush / {FLUSH_EVERY} calls) vs raw",
         "value": counting[op]["ratio"], "target": f"<= {TARGETS[op + '_ratio']}x",
         "pass": counting[op]["ratio"] <= TARGETS[op + "_ratio"]}
        for op in ("get", "set")
    ]
