"""What ``manage.py cache_bench`` measures, against the configured Redis, in one process and run.

1. Per-call cost. Raw redis-py commands and the service's operations on the same client, with
   same-length keys and the same JSON value. Calls alternate one by one (raw, service, raw, ...;
   service first on every other round), each timed on its own, so that a burst of load on a
   shared machine hits both sides alike. A round's figure is its median call, the reported
   figure the median round, and the ratio the median of the rounds' service/raw ratios.
2. Round trips per call, as Redis sees them. Primary: MONITOR, counting the commands that
   arrive from a client connection (not from ``lua``, i.e. not run inside a script) and name a
   key under this run's unique prefix, so other clients of a shared server do not count. As a
   cross-check, Redis' server-wide ``total_reads_processed`` (socket reads of client requests)
   across N calls minus the INFO that reads it, the minimum over repetitions (other clients can
   only add). ``total_commands_processed`` and ``INFO commandstats`` cannot answer the question:
   they also count every command a Lua script runs inside its one EVALSHA. Without MONITOR
   permission (ACLs, managed Redis) the counter figure is the result.
3. Browsing at scale. A brand of ``brand_keys`` keys (default 50,000) among ``foreign_keys``
   keys of 100 other brands (1,000,000; 100,000 with --quick), each a real value key with a TTL
   plus the brand's two index sorted sets, exactly as the service lays them out. The service's
   ``live_count()`` and first page ``list_keys(limit=50)`` against the only way to answer the
   same questions without the indexes: SCAN over the whole server with MATCH on the brand's
   value prefix (COUNT 1000). For the count, SCAN to the end and count matches. For the first
   page (the first 50 names in order, with values and TTLs) SCAN must also go to the end,
   because SCAN returns keys in hash order, then sort and fetch 50 values and TTLs in one
   pipeline. "SCAN until 50 matches" is reported as well, but it is not equivalent (an
   arbitrary 50 keys, no stable order to page on).

Everything the bench writes lives under a key prefix unique to the run
(``<CACHEADMIN_KEY_PREFIX>-bench-<random>``), carries a TTL of at most two hours (so even a
``kill -9`` leaves nothing behind for long), and is deleted by name at the end, on success,
failure, Ctrl-C or SIGTERM. Brand ids 900000-900101 under that prefix do not exist in the
database; no real brand's keys are read or written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import importlib
import itertools
import os
import platform
import secrets
import signal
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.test.utils import override_settings
from redis.exceptions import ResponseError

from brands.cache import BrandCache, CacheLimits
from brands.cache.connection import UNAVAILABLE_ERRORS, redis_client
from brands.cache.layout import BrandKeys
from brands.cache.scripts import PRUNE_BATCH, SCRIPTS
from brands.cache.validation import to_json

FOREIGN_BRAND_BASE = 900_000
FOREIGN_BRANDS = 100
BENCH_BRAND_ID = 900_100
RAW_BRAND_ID = 900_101  # same number of digits: raw keys are exactly as long as the service's
KEY_TTL_S = 3600
SAFETY_TTL_MS = 2 * 3600 * 1000  # index sorted sets expire too, in case cleanup never runs
BATCH = 1000
SCAN_COUNT = 1000
PAGE_SIZE = 50
VALUE = {"user": 123456, "name": "Ada Lovelace", "plan": "pro", "tags": ["a", "b"], "score": 98.5}

TARGETS = {
    "get_ratio": 1.3,
    "set_ratio": 1.5,
    "round_trips": 1,
    "live_count_ms": 2.0,
    "first_page_ms": 30.0,
    "speedup": 100.0,
}

OTHER_BENCHMARKS = [
    ("scripting", "brands.scripting.bench", "run_script_benchmarks"),
    ("pages", "brands.bench_pages", "page_benchmarks"),
]


@dataclass(frozen=True)
class BenchConfig:
    quick: bool = False
    foreign_keys: int = 1_000_000
    brand_keys: int = 50_000
    rounds: int = 7
    calls: int = 2000  # calls per operation per round
    browse_calls: int = 30  # service browse calls per round (the SCAN baseline runs once a round)
    other_benchmarks: bool = True

    @classmethod
    def make(cls, *, quick: bool, foreign_keys: int | None = None, brand_keys: int | None = None,
             rounds: int | None = None, calls: int | None = None, other_benchmarks: bool = True
             ) -> BenchConfig:
        return cls(
            quick=quick,
            foreign_keys=foreign_keys if foreign_keys is not None else (100_000 if quick else 1_000_000),
            brand_keys=brand_keys if brand_keys is not None else 50_000,
            rounds=rounds if rounds is not None else (3 if quick else 7),
            calls=calls if calls is not None else (500 if quick else 2000),
            browse_calls=10 if quick else 30,
            other_benchmarks=other_benchmarks,
        )


class _Written:
    """Every key the bench may have written, registered *before* it is written, so that an
    interrupted fill is still cleaned up (UNLINK of a name never written is harmless)."""

    def __init__(self) -> None:
        self.families: list[Callable[[], Iterable[str]]] = []
        self.names: set[str] = set()

    def add_range(self, keys: BrandKeys, template: str, count: int) -> None:
        self.families.append(lambda: (keys.value(template.format(i)) for i in range(count)))
        self.names.update(keys.index_keys)

    def add(self, name: str) -> None:
        self.names.add(name)

    def __iter__(self) -> Iterator[str]:
        for family in self.families:
            yield from family()
        yield from self.names


# ---------------------------------------------------------------------- small measuring tools


def _paired_median_ns(first: Callable[[], Any], second: Callable[[], Any], n: int) -> tuple[float, float]:
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


def _median_ms(fn: Callable[[], Any], n: int) -> list[float]:
    clock = time.perf_counter_ns
    times = []
    for _ in range(n):
        start = clock()
        fn()
        times.append((clock() - start) / 1e6)
    return times


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


RT_CALLS, RT_MIN_REPS, RT_MAX_REPS = 50, 3, 10
RT_MAX_CALLS = RT_CALLS * (RT_MAX_REPS + 1)


def _monitor_round_trips(client, fn: Callable[[], Any], calls: int, prefix: str) -> dict | None:
    """Commands this process sent, as Redis itself logs them to MONITOR: lines from a client
    connection (not ``lua``) that name a key under this run's unique prefix. Other clients'
    traffic never matches the prefix, so this holds on a busy shared server. None when the
    server refuses MONITOR (ACLs, managed Redis)."""
    marker = f"{prefix}:end-of-measure:{secrets.token_hex(4)}"
    sent: Counter[str] = Counter()
    inside: Counter[str] = Counter()
    try:
        with client.monitor() as monitor:
            for _ in range(calls):
                fn()
            client.echo(marker)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                line = monitor.next_command()
                command = line["command"]
                if marker in command:
                    break
                if prefix not in command:
                    continue
                name = command.split(" ", 1)[0].lower()
                (inside if line["client_type"] == "lua" else sent)[name] += 1
            else:
                return None
    except (ResponseError, *UNAVAILABLE_ERRORS):
        return None
    return {
        "round_trips": sum(sent.values()) / calls,
        "commands_per_call": {name: round(n / calls, 2) for name, n in sorted(sent.items())},
        # Keyless commands (TIME) cannot be attributed to this run, so they are not listed.
        "script_commands_per_call": {name: round(n / calls, 2) for name, n in sorted(inside.items())},
    }


def _counter_round_trips(client, fn: Callable[[], Any], calls: int) -> float:
    """Server-wide socket reads per call (total_reads_processed, minus the INFO that reads it),
    the minimum over repetitions: other clients can only add to it."""
    best: float | None = None
    for rep in range(RT_MAX_REPS):
        before = client.info("stats")["total_reads_processed"]
        for _ in range(calls):
            fn()
        after = client.info("stats")["total_reads_processed"]
        reads = (after - before - 1) / calls
        best = reads if best is None else min(best, reads)
        if rep + 1 >= RT_MIN_REPS and best == int(best):
            break
    return best


def round_trips(client, fn: Callable[[], Any], prefix: str, *, calls: int = RT_CALLS) -> dict:
    """Round trips per call of ``fn``, measured by Redis: from MONITOR (attributed to this run)
    when the server allows it, else from the server-wide read counter."""
    counters = _counter_round_trips(client, fn, calls)
    monitored = _monitor_round_trips(client, fn, calls, prefix)
    if monitored is None:
        return {"round_trips": counters, "method": "server counters", "server_counter_round_trips": counters}
    return {**monitored, "method": "MONITOR", "server_counter_round_trips": counters}


# ---------------------------------------------------------------------- writing the data set


def _fill_foreign(client, written: _Written, total: int, value_text: str,
                  progress: Callable[[str], None]) -> None:
    """``total`` keys spread over 100 brands that are not in the database: value keys with a TTL
    and both index sorted sets, as the service's SET script lays them out (written directly,
    pipelined, because a million script calls would take minutes for the same result)."""
    brands = min(FOREIGN_BRANDS, max(total, 1))
    now_ms = _redis_now_ms(client)
    ttl_ms = KEY_TTL_S * 1000
    done = 0
    for b in range(brands):
        count = total // brands + (1 if b < total % brands else 0)
        keys = BrandKeys.for_brand(FOREIGN_BRAND_BASE + b)
        written.add_range(keys, "item:{:07d}", count)
        for start in range(0, count, BATCH):
            names = [f"item:{i:07d}" for i in range(start, min(start + BATCH, count))]
            pipe = client.pipeline(transaction=False)
            for name in names:
                pipe.set(keys.value(name), value_text, px=ttl_ms)
            pipe.zadd(keys.expiry_index, dict.fromkeys(names, now_ms + ttl_ms))
            pipe.zadd(keys.name_index, dict.fromkeys(names, 0))
            pipe.execute()
        client.pexpire(keys.expiry_index, SAFETY_TTL_MS)
        client.pexpire(keys.name_index, SAFETY_TTL_MS)
        done += count
        if (b + 1) % 10 == 0:
            progress(f"  foreign keys: {done:,} / {total:,}")


def _fill_brand(client, cache: BrandCache, written: _Written, count: int, value_text: str) -> None:
    """The bench brand's keys through the service's own SET script (pipelined), so the value
    keys and indexes are exactly what ``cache.set`` would have produced."""
    written.add_range(cache.keys, "item:{:06d}", count)
    script = SCRIPTS.get("SET", client)
    ttl_ms = KEY_TTL_S * 1000
    for start in range(0, count, BATCH):
        pipe = client.pipeline(transaction=False)
        for i in range(start, min(start + BATCH, count)):
            name = f"item:{i:06d}"
            script(keys=[cache.keys.value(name), *cache.keys.index_keys],
                   args=[name, value_text, ttl_ms, cache.limits.max_keys, "0", PRUNE_BATCH], client=pipe)
        pipe.execute()


def _redis_now_ms(client) -> int:
    seconds, micros = client.time()
    return seconds * 1000 + micros // 1000


def _delete(client, names: Iterable[str]) -> int:
    deleted = 0
    batch: list[str] = []
    pipe = client.pipeline(transaction=False)
    queued = 0
    for name in names:
        batch.append(name)
        if len(batch) >= BATCH:
            pipe.unlink(*batch)
            batch, queued = [], queued + 1
            if queued >= 50:
                deleted += sum(pipe.execute())
                queued = 0
    if batch:
        pipe.unlink(*batch)
    deleted += sum(pipe.execute())
    return deleted


def _leftovers(client, prefix: str) -> list[bytes]:
    return list(client.scan_iter(match=_glob_escape(prefix) + ":*", count=SCAN_COUNT))


@contextlib.contextmanager
def _interrupts_become_exceptions() -> Iterator[None]:
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
def _uninterruptible() -> Iterator[None]:
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


# ---------------------------------------------------------------------- the benchmarks


def _per_call(client, cache: BrandCache, raw: BrandKeys, written: _Written, config: BenchConfig,
              value_text: str) -> dict:
    ttl_ms = KEY_TTL_S * 1000
    raw_get_key = raw.value("bench:get")
    raw_set_key = raw.value("bench:set")
    raw_counter = raw.value("bench:counter")
    for name in (raw_get_key, raw_set_key, raw_counter):
        written.add(name)
    for name in ("bench:get", "bench:set", "bench:counter"):
        written.add(cache.keys.value(name))
    client.set(raw_get_key, value_text, px=ttl_ms)
    client.set(raw_counter, 0, px=ttl_ms)
    assert cache.set("bench:get", VALUE) and cache.set("bench:set", VALUE)
    assert cache.increment("bench:counter", 0) == 0

    raw_absent = itertools.count()
    service_absent = itertools.count()
    warm = max(50, config.calls // 10)
    max_absent = (config.rounds + 1) * config.calls + warm
    # Registered up front: the loops below create these names one by one.
    for keys in (raw, cache.keys):
        written.families.append(
            lambda keys=keys: (keys.value(f"bench:new:{i}") for i in range(max_absent + 1))
        )

    def raw_set_if_absent():
        client.set(raw.value(f"bench:new:{next(raw_absent)}"), value_text, px=ttl_ms, nx=True)

    def service_set_if_absent():
        cache.set_if_absent(f"bench:new:{next(service_absent)}", VALUE)

    pairs = {
        "get": (lambda: client.get(raw_get_key), lambda: cache.get("bench:get")),
        "set": (lambda: client.set(raw_set_key, value_text, px=ttl_ms),
                lambda: cache.set("bench:set", VALUE)),
        "has": (lambda: client.exists(raw_get_key), lambda: cache.has("bench:get")),
        "increment": (lambda: client.incrby(raw_counter, 1), lambda: cache.increment("bench:counter")),
        "set_if_absent": (raw_set_if_absent, service_set_if_absent),
    }
    raw_commands = {"get": "GET", "set": "SET PX", "has": "EXISTS", "increment": "INCRBY",
                    "set_if_absent": "SET PX NX (new key)"}
    per_round: dict[str, dict[str, list[float]]] = {
        op: {"raw": [], "service": [], "ratio": []} for op in pairs
    }
    with _no_gc():
        for raw_fn, service_fn in pairs.values():  # warm-up: connections, script cache, code paths
            _paired_median_ns(raw_fn, service_fn, warm)
        for round_no in range(config.rounds):
            for op, (raw_fn, service_fn) in pairs.items():
                if round_no % 2 == 0:
                    raw_ns, service_ns = _paired_median_ns(raw_fn, service_fn, config.calls)
                else:
                    service_ns, raw_ns = _paired_median_ns(service_fn, raw_fn, config.calls)
                per_round[op]["raw"].append(raw_ns / 1000)
                per_round[op]["service"].append(service_ns / 1000)
                per_round[op]["ratio"].append(service_ns / raw_ns)
    results = {}
    for op, figures in per_round.items():
        results[op] = {
            "raw_command": raw_commands[op],
            "raw_us": round(statistics.median(figures["raw"]), 1),
            "service_us": round(statistics.median(figures["service"]), 1),
            "ratio": round(statistics.median(figures["ratio"]), 3),
            "rounds_ratio": [round(r, 3) for r in figures["ratio"]],
        }
    return results


def _round_trips_all(client, cache: BrandCache, raw: BrandKeys, written: _Written) -> dict:
    written.families.append(lambda: (cache.keys.value(f"bench:rt:{i}") for i in range(RT_MAX_CALLS + 1)))
    deletable = itertools.count()
    absent = itertools.count()
    calls = {
        "raw GET (calibration)": lambda: client.get(raw.value("bench:get")),
        "get": lambda: cache.get("bench:get"),
        "set": lambda: cache.set("bench:set", VALUE),
        "has": lambda: cache.has("bench:get"),
        "delete": lambda: cache.delete(f"bench:new:{next(deletable)}"),  # keys that exist
        "set_if_absent": lambda: cache.set_if_absent(f"bench:rt:{next(absent)}", VALUE),
        "increment": lambda: cache.increment("bench:counter"),
        "live_count": cache.live_count,
        "list_keys": lambda: cache.list_keys(limit=PAGE_SIZE),
    }
    prefix = cache.keys.value_prefix.split(":", 1)[0]
    return {name: round_trips(client, fn, prefix) for name, fn in calls.items()}


def _browse(client, cache: BrandCache, config: BenchConfig) -> dict:
    pattern = _glob_escape(cache.keys.value_prefix) + "*"
    prefix_len = len(cache.keys.value_prefix)

    def scan_count() -> int:
        return sum(1 for _ in client.scan_iter(match=pattern, count=SCAN_COUNT))

    def fetch(names: list[str]) -> list[tuple[str, bytes, int]]:
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.get(cache.keys.value(name))
            pipe.pttl(cache.keys.value(name))
        replies = pipe.execute()
        return [(name, replies[2 * i], replies[2 * i + 1]) for i, name in enumerate(names)]

    def scan_first_page_sorted() -> list[tuple[str, bytes, int]]:
        names = sorted(key[prefix_len:].decode() for key in client.scan_iter(match=pattern, count=SCAN_COUNT))
        return fetch(names[:PAGE_SIZE])

    def scan_until_page() -> list[tuple[str, bytes, int]]:
        names: list[str] = []
        cursor = 0
        while True:
            cursor, keys = client.scan(cursor, match=pattern, count=SCAN_COUNT)
            names.extend(key[prefix_len:].decode() for key in keys)
            if len(names) >= PAGE_SIZE or cursor == 0:
                return fetch(names[:PAGE_SIZE])

    # Both sides must give the same answers, or the comparison means nothing.
    service_page = [item.key for item in cache.list_keys(limit=PAGE_SIZE).items]
    agreement = {
        "live_count": cache.live_count() == scan_count() == config.brand_keys,
        "first_page": service_page == [name for name, _, _ in scan_first_page_sorted()],
    }
    figures: dict[str, list[float]] = {name: [] for name in
                                       ("count_service", "count_scan", "page_service", "page_scan",
                                        "page_scan_unsorted")}
    with _no_gc():
        for _ in range(config.rounds):
            figures["count_service"].extend(_median_ms(cache.live_count, config.browse_calls))
            figures["count_scan"].extend(_median_ms(scan_count, 1))
            figures["page_service"].extend(_median_ms(lambda: cache.list_keys(limit=PAGE_SIZE),
                                                      config.browse_calls))
            figures["page_scan"].extend(_median_ms(scan_first_page_sorted, 1))
            figures["page_scan_unsorted"].extend(_median_ms(scan_until_page, 1))
    med = {name: statistics.median(values) for name, values in figures.items()}
    return {
        "live_count": {
            "service_ms": round(med["count_service"], 3),
            "scan_ms": round(med["count_scan"], 2),
            "speedup": round(med["count_scan"] / med["count_service"], 1),
            "agrees": agreement["live_count"],
        },
        "first_page": {
            "service_ms": round(med["page_service"], 3),
            "scan_ms": round(med["page_scan"], 2),
            "speedup": round(med["page_scan"] / med["page_service"], 1),
            "scan_until_50_ms": round(med["page_scan_unsorted"], 3),
            "agrees": agreement["first_page"],
        },
    }


def _targets(result: dict) -> list[dict]:
    per_call, trips, browse = result["per_call"], result["round_trips"], result["browse"]
    rows = [
        {"name": "service get vs raw GET", "value": per_call["get"]["ratio"],
         "target": f"<= {TARGETS['get_ratio']}x", "pass": per_call["get"]["ratio"] <= TARGETS["get_ratio"]},
        {"name": "service set vs raw SET", "value": per_call["set"]["ratio"],
         "target": f"<= {TARGETS['set_ratio']}x", "pass": per_call["set"]["ratio"] <= TARGETS["set_ratio"]},
    ]
    for op in ("get", "set", "has", "delete", "set_if_absent", "increment"):
        value = trips[op]["round_trips"]
        rows.append({"name": f"round trips per {op}", "value": value, "target": "== 1", "pass": value == 1})
    for name, label, limit in (("live_count", "live count", "live_count_ms"),
                               ("first_page", "first page", "first_page_ms")):
        figures = browse[name]
        rows.append({"name": f"{label} with {result['sizes']['foreign_keys']:,} foreign keys (ms)",
                     "value": figures["service_ms"], "target": f"< {TARGETS[limit]:g} ms",
                     "pass": figures["service_ms"] < TARGETS[limit]})
        rows.append({"name": f"{label} speedup over SCAN", "value": figures["speedup"],
                     "target": f">= {TARGETS['speedup']:g}x",
                     "pass": figures["speedup"] >= TARGETS["speedup"]})
    return rows


def other_benchmark(module: str, function: str, quick: bool) -> dict:
    """Another engineer's benchmark, if it exists yet: its figures, or a note saying why not."""
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            return {"skipped": f"{module} does not exist yet"}
        return {"error": f"{type(exc).__name__}: {exc}"}
    fn = getattr(found, function, None)
    if fn is None:
        return {"skipped": f"{module} has no {function}()"}
    try:
        figures = fn(quick)
    except Exception as exc:  # their failure must not lose our figures or skip our cleanup
        return {"error": f"{type(exc).__name__}: {exc}"}
    return figures if isinstance(figures, dict) else {"result": figures}


def environment(client) -> dict:
    server = client.info("server")
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        memory = None
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "python": sys.version.split()[0],
        "redis": server.get("redis_version"),
        "redis_connection": "embedded, unix socket" if settings.EMBEDDED_REDIS else "REDIS_URL",
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "memory_gib": round(memory, 1) if memory else None,
    }


def run(config: BenchConfig, progress: Callable[[str], None] = lambda message: None) -> dict:
    client = redis_client()
    prefix = f"{settings.CACHEADMIN_KEY_PREFIX}-bench-{secrets.token_hex(4)}"
    value_text = to_json(VALUE)  # the exact text the service stores for VALUE
    result: dict[str, Any] = {
        "environment": environment(client),
        "sizes": {
            "quick": config.quick, "foreign_keys": config.foreign_keys, "foreign_brands": FOREIGN_BRANDS,
            "brand_keys": config.brand_keys, "rounds": config.rounds, "calls_per_round": config.calls,
            "value_bytes": len(value_text.encode()),
        },
        "bench_prefix": prefix,
    }
    written = _Written()
    limits = CacheLimits(max_keys=config.brand_keys + (config.rounds + 2) * config.calls + 10_000,
                         max_value_bytes=512, default_ttl=KEY_TTL_S, max_ttl=KEY_TTL_S)
    started = time.perf_counter()
    try:
        with _interrupts_become_exceptions(), override_settings(CACHEADMIN_KEY_PREFIX=prefix):
            cache = BrandCache.for_brand_id(BENCH_BRAND_ID, limits)
            raw = BrandKeys.for_brand(RAW_BRAND_ID)
            progress(f"Writing {config.foreign_keys:,} keys of {FOREIGN_BRANDS} other brands under {prefix}:")
            t0 = time.perf_counter()
            _fill_foreign(client, written, config.foreign_keys, value_text, progress)
            progress(f"Writing the bench brand's {config.brand_keys:,} keys")
            _fill_brand(client, cache, written, config.brand_keys, value_text)
            for index in cache.keys.index_keys:
                written.add(index)
            result["fill_s"] = round(time.perf_counter() - t0, 1)
            result["server_keys"] = client.dbsize()
            progress("Browsing: service vs SCAN")
            result["browse"] = _browse(client, cache, config)
            progress("Per-call cost: raw redis-py vs service")
            result["per_call"] = _per_call(client, cache, raw, written, config, value_text)
            progress("Round trips per call")
            result["round_trips"] = _round_trips_all(client, cache, raw, written)
            for index in cache.keys.index_keys:
                client.pexpire(index, SAFETY_TTL_MS)
    finally:
        with _uninterruptible():
            progress("Cleaning up")
            deleted = _delete(client, written)
            leftovers = _leftovers(client, prefix)
            if leftovers:  # under this run's unique prefix: written by this run
                deleted += _delete(client, (key.decode() for key in leftovers))
            result["cleanup"] = {"deleted_keys": deleted, "unregistered_leftovers": len(leftovers),
                                 "remaining": len(_leftovers(client, prefix))}
    result["targets"] = _targets(result)
    result["duration_s"] = round(time.perf_counter() - started, 1)
    if config.other_benchmarks:
        result["other"] = {}
        for label, module, function in OTHER_BENCHMARKS:
            progress(f"Other benchmark: {module}.{function}")
            result["other"][label] = other_benchmark(module, function, config.quick)
    return result
