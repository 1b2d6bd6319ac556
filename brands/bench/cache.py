"""The cache service against raw redis-py and SCAN (``manage.py cache_bench``, part 1 of 3).

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

import itertools
import secrets
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.test.utils import override_settings

from brands.bench.config import BenchConfig
from brands.bench.measure import (
    RT_MAX_CALLS,
    interrupts_become_exceptions,
    no_gc,
    paired_median_ns,
    round_trips,
    timings_ms,
    uninterruptible,
)
from brands.bench.opcounts import counting_targets, run_counting
from brands.cache import (
    BrandCache,
    BrandKeys,
    CacheLimits,
    delete_names,
    discard_op_counts,
    fill_brand_layout,
    glob_escape,
    memory_usage,
    name_index_keys,
    names_under,
    node_client,
    server_key_count,
    to_json,
)

FOREIGN_BRAND_BASE = 900_000
FOREIGN_BRANDS = 100
BENCH_BRAND_ID = 900_100
RAW_BRAND_ID = 900_101  # same number of digits: raw keys are exactly as long as the service's
RAW_BRAND_IDS = range(RAW_BRAND_ID, 900_200)  # on a cluster: the first on the bench brand's node
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


# ---------------------------------------------------------------------- writing the data set


def _fill_foreign(client, written: _Written, total: int, value_text: str,
                  progress: Callable[[str], None]) -> None:
    """``total`` keys spread over 100 brands that are not in the database, in the service's
    layout (brands.cache.fill_brand_layout: pipelined, the documented benchmark exception)."""
    brands = min(FOREIGN_BRANDS, max(total, 1))
    done = 0
    for b in range(brands):
        count = total // brands + (1 if b < total % brands else 0)
        keys = BrandKeys.for_brand(FOREIGN_BRAND_BASE + b)
        written.add_range(keys, "item:{:07d}", count)
        fill_brand_layout(client, keys, [f"item:{i:07d}" for i in range(count)], value_text,
                          ttl_ms=KEY_TTL_S * 1000, index_ttl_ms=SAFETY_TTL_MS)
        done += count
        if (b + 1) % 10 == 0:
            progress(f"  foreign keys: {done:,} / {total:,}")


def _fill_brand(cache: BrandCache, written: _Written, count: int, value: Any = VALUE) -> None:
    """The bench brand's keys through the service itself (``set_many``: pipelined, one atomic
    script per key), so the value keys and indexes are exactly what ``cache.set`` produces."""
    written.add_range(cache.keys, "item:{:06d}", count)
    for start in range(0, count, BATCH):
        names = [f"item:{i:06d}" for i in range(start, min(start + BATCH, count))]
        if not all(cache.set_many(((name, value) for name in names), KEY_TTL_S)):
            raise RuntimeError(f"the bench brand refused a key: {cache.warnings[-1:]}")


# ---------------------------------------------------------------------- the benchmarks


def _raw_brand_id(client, cache: BrandCache) -> int:
    """The raw side's brand id: on Redis Cluster one whose keys live on the bench brand's node,
    so that raw and service calls go to the same server (another node is another process with
    its own load); on one server, RAW_BRAND_ID."""
    target = node_client(client, cache.keys.stats)
    for brand_id in RAW_BRAND_IDS:
        if node_client(client, BrandKeys.for_brand(brand_id).stats) is target:
            return brand_id
    return RAW_BRAND_ID


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
    with no_gc():
        for raw_fn, service_fn in pairs.values():  # warm-up: connections, script cache, code paths
            paired_median_ns(raw_fn, service_fn, warm)
        for round_no in range(config.rounds):
            for op, (raw_fn, service_fn) in pairs.items():
                if round_no % 2 == 0:
                    raw_ns, service_ns = paired_median_ns(raw_fn, service_fn, config.calls)
                else:
                    service_ns, raw_ns = paired_median_ns(service_fn, raw_fn, config.calls)
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
    # Redis counts round trips on the server that answers: on a cluster, the brand's node (the raw
    # calibration key's node for the raw GET).
    brand_node = node_client(client, cache.keys.stats)
    raw_node = node_client(client, raw.value("bench:get"))

    def measured(name: str, fn: Callable[[], Any]) -> dict:
        # A call's own round trips: the operation counts it adds go out later, once per script
        # execution or request (their flush is measured in brands.bench.opcounts). An empty
        # tally here keeps the automatic flush (every 1,000 calls) out of these few hundred calls.
        discard_op_counts()
        return round_trips(raw_node if name.startswith("raw") else brand_node, fn, prefix)

    return {name: measured(name, fn) for name, fn in calls.items()}


def _browse(client, cache: BrandCache, config: BenchConfig) -> dict:
    pattern = glob_escape(cache.keys.value_prefix) + "*"
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
        # scan_iter stops asking for more batches once 50 names are in (on a cluster it walks
        # the nodes one after another; a raw SCAN cursor there is per node).
        names: list[str] = []
        for key in client.scan_iter(match=pattern, count=SCAN_COUNT):
            names.append(key[prefix_len:].decode())
            if len(names) >= PAGE_SIZE:
                break
        return fetch(names)

    # Both sides must give the same answers, or the comparison means nothing.
    service_page = [item.key for item in cache.list_keys(limit=PAGE_SIZE).items]
    agreement = {
        "live_count": cache.live_count() == scan_count() == config.brand_keys,
        "first_page": service_page == [name for name, _, _ in scan_first_page_sorted()],
    }
    figures: dict[str, list[float]] = {name: [] for name in
                                       ("count_service", "count_scan", "page_service", "page_scan",
                                        "page_scan_unsorted")}
    with no_gc():
        for _ in range(config.rounds):
            figures["count_service"].extend(timings_ms(cache.live_count, config.browse_calls))
            figures["count_scan"].extend(timings_ms(scan_count, 1))
            figures["page_service"].extend(timings_ms(lambda: cache.list_keys(limit=PAGE_SIZE),
                                                      config.browse_calls))
            figures["page_scan"].extend(timings_ms(scan_first_page_sorted, 1))
            figures["page_scan_unsorted"].extend(timings_ms(scan_until_page, 1))
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


MEMORY_SAMPLES = 500


def _used_memory(client) -> int:
    """used_memory summed over the primaries (one server: its own)."""
    info = client.info("memory")
    if isinstance(info, dict) and "used_memory" not in info:  # a cluster client: per node
        return sum(int(node["used_memory"]) for node in info.values())
    return int(info["used_memory"])


def _memory(client, cache: BrandCache, count: int, value_text: str) -> dict:
    """Redis bytes per key of the full bench brand (MEMORY USAGE, SAMPLES 0): the value keys
    (``MEMORY_SAMPLES`` of them, evenly spread; each is a string, so its figure is exact) and
    every key of the two indexes, whole. The overhead is what is stored above the value's own
    JSON text: key names, Redis' per-key bookkeeping, the TTL, and the indexes."""
    step = max(1, count // MEMORY_SAMPLES)
    sample = [cache.keys.value(f"item:{i:06d}") for i in range(0, count, step)]
    value_key = memory_usage(client, sample) / len(sample)
    expiry_index = memory_usage(client, [cache.keys.expiry_index]) / count
    index_keys = name_index_keys(client, cache.keys)
    name_index = memory_usage(client, index_keys) / count
    total = value_key + expiry_index + name_index
    return {
        "keys": count,
        "value_bytes": len(value_text.encode()),
        "value_key_bytes": round(value_key, 1),
        "expiry_index_bytes_per_key": round(expiry_index, 1),
        "name_index_bytes_per_key": round(name_index, 1),
        "name_index_keys": len(index_keys),
        "bytes_per_key": round(total, 1),
        "overhead_per_key": round(total - len(value_text.encode()), 1),
        "brand_mb": round(total * count / 2**20, 2),
        "value_keys_sampled": len(sample),
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
    if "counting" in result:
        rows += counting_targets(result["counting"])
    return rows


def run_cache_benchmarks(config: BenchConfig, client, progress: Callable[[str], None]) -> dict:
    """Fill, measure and clean up under a prefix unique to the run; the figures as a dict."""
    prefix = f"{settings.CACHEADMIN_KEY_PREFIX}-bench-{secrets.token_hex(4)}"
    value_text = to_json(VALUE)  # the exact text the service stores for VALUE
    result: dict[str, Any] = {
        "sizes": {
            "quick": config.quick, "foreign_keys": config.foreign_keys, "foreign_brands": FOREIGN_BRANDS,
            "brand_keys": config.brand_keys, "rounds": config.rounds, "calls_per_round": config.calls,
            "value_bytes": len(value_text.encode()),
        },
        "bench_prefix": prefix,
    }
    written = _Written()
    limits = CacheLimits(max_keys=config.brand_keys + (config.rounds + 2) * config.calls + 10_000,
                         max_value_bytes=max(512, config.value_bytes or 0),
                         default_ttl=KEY_TTL_S, max_ttl=KEY_TTL_S)
    try:
        with interrupts_become_exceptions(), override_settings(CACHEADMIN_KEY_PREFIX=prefix):
            cache = BrandCache(BENCH_BRAND_ID, limits)
            raw = BrandKeys.for_brand(_raw_brand_id(client, cache))
            progress(f"Writing {config.foreign_keys:,} keys of {FOREIGN_BRANDS} other brands under {prefix}:")
            t0 = time.perf_counter()
            _fill_foreign(client, written, config.foreign_keys, value_text, progress)
            progress(f"Writing the bench brand's {config.brand_keys:,} keys")
            for index in cache.keys.index_keys:
                written.add(index)
            used_before = _used_memory(client)
            # The brand's values: VALUE, or JSON strings of --value-bytes bytes (memory per key
            # at other value sizes; the per-call figures always use VALUE).
            brand_value = "x" * (config.value_bytes - 2) if config.value_bytes else VALUE
            _fill_brand(cache, written, config.brand_keys, brand_value)
            used_delta = _used_memory(client) - used_before
            result["fill_s"] = round(time.perf_counter() - t0, 1)
            result["server_keys"] = server_key_count(client)
            progress("Memory per key of the bench brand")
            result["memory"] = _memory(client, cache, config.brand_keys, to_json(brand_value))
            # Cross-check: the server's used_memory grew by this much a key while the brand was
            # written (includes what MEMORY USAGE leaves out: the TTL's entry in the expires
            # table, allocator rounding; other clients of a shared server add noise).
            result["memory"]["used_memory_delta_per_key"] = round(used_delta / config.brand_keys, 1)
            progress("Browsing: service vs SCAN")
            result["browse"] = _browse(client, cache, config)
            progress("Per-call cost: raw redis-py vs service")
            result["per_call"] = _per_call(client, cache, raw, written, config, value_text)
            progress("Operation counting: one flush per 20 calls")
            ttl_ms = KEY_TTL_S * 1000
            result["counting"] = run_counting(cache, {
                "get": (lambda: client.get(raw.value("bench:get")), lambda: cache.get("bench:get")),
                "set": (lambda: client.set(raw.value("bench:set"), value_text, px=ttl_ms),
                        lambda: cache.set("bench:set", VALUE)),
            }, config)
            progress("Round trips per call")
            result["round_trips"] = _round_trips_all(client, cache, raw, written)
            for index in cache.keys.index_keys:
                client.pexpire(index, SAFETY_TTL_MS)
    finally:
        # Counts not flushed yet belong to the bench brand: they must not reach Redis after the
        # cleanup (they carry this run's prefix).
        discard_op_counts()
        with uninterruptible(), override_settings(CACHEADMIN_KEY_PREFIX=prefix):
            for brand_id in (BENCH_BRAND_ID, *range(FOREIGN_BRAND_BASE, FOREIGN_BRAND_BASE + FOREIGN_BRANDS)):
                for name in name_index_keys(client, BrandKeys.for_brand(brand_id)):
                    written.add(name)
        with uninterruptible():
            progress("Cleaning up")
            deleted = delete_names(client, written)
            leftovers = names_under(client, prefix)
            if leftovers:  # under this run's unique prefix: written by this run
                deleted += delete_names(client, (key.decode() for key in leftovers))
            result["cleanup"] = {"deleted_keys": deleted, "unregistered_leftovers": len(leftovers),
                                 "remaining": len(names_under(client, prefix))}
    result["targets"] = _targets(result)
    return result
