"""Operation counting (issue 12, items 2 and 3) against raw redis-py (``cache_bench``, within the
cache part's run, on its brand and keys).

Counting itself makes no round trip: each call adds to a tally in Python, and the tally goes to
Redis once per script execution (one EVALSHA per brand in one pipeline). The honest price of a
call is then its own time plus its share of that flush. A script may make at most 20 cache calls
(the contract's default ``max_ops_per_execution``), so the figure here is a block of 20 service
calls followed by one flush, against a block of 20 raw redis-py calls; blocks alternate one by
one (raw first on every other round), each timed whole; a round's figure is its median block,
the ratio the median of the rounds' ratios. A script with fewer calls pays the flush over fewer
calls; that is reported too (the flush's own time), as is the Python cost of recording one call
and of the hot-key part of a flush.

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
from brands.cache import BrandCache, discard_op_counts, flush_op_counts

FLUSH_EVERY = 20  # the contract's default max_ops_per_execution: one flush per full execution
TARGETS = {"get_ratio": 1.3, "set_ratio": 1.5}


def _block_ns(fn: Callable[[], object], calls: int, flush: bool) -> int:
    clock = time.perf_counter_ns
    start = clock()
    for _ in range(calls):
        fn()
    if flush:
        flush_op_counts()
    return clock() - start


def _paired_blocks(raw_fn: Callable[[], object], counted_fn: Callable[[], object], blocks: int,
                   raw_first: bool) -> tuple[float, float]:
    raw, counted = [], []
    for _ in range(blocks):
        if raw_first:
            raw.append(_block_ns(raw_fn, FLUSH_EVERY, False))
            counted.append(_block_ns(counted_fn, FLUSH_EVERY, True))
        else:
            counted.append(_block_ns(counted_fn, FLUSH_EVERY, True))
            raw.append(_block_ns(raw_fn, FLUSH_EVERY, False))
    return statistics.median(raw), statistics.median(counted)


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
    blocks = max(5, config.calls // FLUSH_EVERY)
    discard_op_counts()
    result: dict = {"flush_every": FLUSH_EVERY, "blocks_per_round": blocks}
    per_round: dict[str, dict[str, list[float]]] = {
        op: {"raw": [], "counted": [], "ratio": []} for op in pairs
    }
    with no_gc():
        for raw_fn, service_fn in pairs.values():
            _paired_blocks(raw_fn, service_fn, max(3, blocks // 10), True)  # warm-up
        for round_no in range(config.rounds):
            for op, (raw_fn, service_fn) in pairs.items():
                raw_ns, counted_ns = _paired_blocks(raw_fn, service_fn, blocks, round_no % 2 == 0)
                per_round[op]["raw"].append(raw_ns / FLUSH_EVERY / 1000)
                per_round[op]["counted"].append(counted_ns / FLUSH_EVERY / 1000)
                per_round[op]["ratio"].append(counted_ns / raw_ns)
    for op, figures in per_round.items():
        result[op] = {
            "raw_us": round(statistics.median(figures["raw"]), 1),
            "counted_us": round(statistics.median(figures["counted"]), 1),
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
    return result


def counting_targets(counting: dict) -> list[dict]:
    return [
        {"name": f"service {op} with counting (1 flush / {FLUSH_EVERY} calls) vs raw",
         "value": counting[op]["ratio"], "target": f"<= {TARGETS[op + '_ratio']}x",
         "pass": counting[op]["ratio"] <= TARGETS[op + "_ratio"]}
        for op in ("get", "set")
    ]
