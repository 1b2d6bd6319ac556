"""Operations per brand: counted in Python from each call's own result, flushed in one round trip.

Every contract operation already knows its outcome (hit or miss, written, refused and why), so
counting it costs no Redis call of its own: ``BrandCache`` adds one to a tally kept per thread
(``record``), and the tally goes to Redis in one script call per brand (``flush``; several brands
in one pipeline): once per dashboard request (brands.middleware.OpCountsMiddleware), and for a
script execution in the pipeline that gives the run's scheduling slot back (the worker hands its
tally over with the result, ``take``; brands.cache.script_slots sends it). A thread that never
reaches either (a management command, a benchmark loop) flushes by itself every AUTO_FLUSH_CALLS
calls, so the tally stays small, and the main thread's rest goes out when the process exits. A
flush that finds Redis unreachable drops what it held: counters are monitoring, never worth
failing or growing for.

Under the brand's hash tag (so on Redis Cluster one brand's counters sit in its slot):

    <prefix>:{<id>}:om:<minute>   hash "<source>:<kind>" -> count, for one UTC minute (epoch s);
                                  expires MINUTE_KEEP_S after its last write (24 h of minutes)
    <prefix>:{<id>}:oh:<hour>     the same per hour, written with the minute in the same script
                                  (the roll-up is exact, never recomputed); 30 days of hours
    <prefix>:{<id>}:ot            the same since the brand began (/metrics' counters; no expiry,
                                  bounded by the fixed set of fields)
    <prefix>:{<id>}:hr:<bucket>   sorted set: key -> reads in a 5-minute bucket (hot keys)
    <prefix>:{<id>}:hw:<bucket>   sorted set: key -> writes (set, setIfAbsent that wrote,
                                  increment, del) in a 5-minute bucket

Each hot-key bucket is trimmed to its HOT_KEPT busiest keys on every flush (ZREMRANGEBYRANK), so
its memory is bounded whatever the traffic; the last hour's hot keys are the sum of the 12 latest
buckets. A key that is never among a bucket's HOT_KEPT busiest can be under-counted: the list is
exact for the keys that matter (the top) and approximate near the cut.

Minutes and hours come from Redis' own TIME inside the script, never an app server's clock.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError

from brands.cache.connection import UNAVAILABLE_ERRORS, redis_client
from brands.cache.errors import CacheUnavailable
from brands.cache.layout import BrandKeys
from brands.cache.scripts import SCRIPTS

logger = logging.getLogger(__name__)

SOURCES = ("script", "dashboard")
# One field per outcome; every counted call adds one to exactly one of them.
OPERATION_KINDS = ("read_hit", "read_miss", "write", "exists", "delete", "increment")
REFUSAL_REASONS = ("key_limit", "value_size", "invalid_key", "op_budget")
KINDS = OPERATION_KINDS + tuple(f"refused_{reason}" for reason in REFUSAL_REASONS)
FIELDS = {source: {kind: f"{source}:{kind}" for kind in KINDS} for source in SOURCES}

MINUTE_KEEP_S = 24 * 3600 + 120
HOUR_KEEP_S = 30 * 24 * 3600 + 3600
HOT_BUCKET_S = 300
HOT_BUCKETS_PER_HOUR = 3600 // HOT_BUCKET_S
HOT_KEEP_S = 3600 + 2 * HOT_BUCKET_S
HOT_KEPT = 50
AUTO_FLUSH_CALLS = 1000

# KEYS: the brand's stats key (it carries the hash tag: the call runs on the brand's slot; the
# counter names are built from ARGV[1], the brand's key base, which carries the same tag).
# ARGV: base, then three groups, each a count followed by pairs: fields (name, n), read keys
# (name, n), written keys (name, n); then MINUTE_KEEP_S, HOUR_KEEP_S, HOT_BUCKET_S, HOT_KEEP_S,
# HOT_KEPT. Returns the Redis minute (epoch s) the counts went to.
OPS_FLUSH = r"""
local n = #ARGV
local minute_keep, hour_keep = tonumber(ARGV[n - 4]), tonumber(ARGV[n - 3])
local bucket_s, hot_keep, kept = tonumber(ARGV[n - 2]), tonumber(ARGV[n - 1]), tonumber(ARGV[n])
local now = tonumber(redis.call('TIME')[1])
local base = ARGV[1]
local minute = now - now % 60
local mk, hk, tk = base .. 'om:' .. minute, base .. 'oh:' .. (now - now % 3600), base .. 'ot'
local i = 2
local fields = tonumber(ARGV[i]); i = i + 1
-- A hash or set gets its TTL when this script creates it, so every one has one. A later flush
-- only sets it again when its first increment made a new field or member (the key may be
-- new); otherwise the key existed, with its TTL. Trimming is needed only when members were added.
for j = 1, fields do
  local f, c = ARGV[i], tonumber(ARGV[i + 1]); i = i + 2
  local in_minute = redis.call('HINCRBY', mk, f, c)
  redis.call('HINCRBY', hk, f, c)
  redis.call('HINCRBY', tk, f, c)
  if j == 1 and in_minute == c then
    redis.call('EXPIRE', mk, minute_keep)
    redis.call('EXPIRE', hk, hour_keep)
  end
end
for _, side in ipairs({'hr:', 'hw:'}) do
  local count = tonumber(ARGV[i]); i = i + 1
  if count > 0 then
    local zk = base .. side .. (now - now % bucket_s)
    local added = false
    for j = 1, count do
      local c = tonumber(ARGV[i + 1])
      if tonumber(redis.call('ZINCRBY', zk, c, ARGV[i])) == c then
        added = true
        if j == 1 then redis.call('EXPIRE', zk, hot_keep) end
      end
      i = i + 2
    end
    if added then redis.call('ZREMRANGEBYRANK', zk, 0, -(kept + 1)) end
  end
end
return minute
"""

# KEYS: the brand's stats key. ARGV: base, minutes, hours, bucket s, hot buckets.
# Returns {now s, {minute hashes, oldest first}, {hour hashes, oldest first}, hot reads, hot
# writes} where each hash is flat (field, count, ...) and hot lists are flat (key, score, ...)
# summed over the buckets.
OPS_READ = r"""
local base = ARGV[1]
local minutes, hours = tonumber(ARGV[2]), tonumber(ARGV[3])
local bucket_s, buckets = tonumber(ARGV[4]), tonumber(ARGV[5])
local now = tonumber(redis.call('TIME')[1])
local minute, hour = now - now % 60, now - now % 3600
local m, h = {}, {}
for j = minutes - 1, 0, -1 do m[#m + 1] = redis.call('HGETALL', base .. 'om:' .. (minute - 60 * j)) end
for j = hours - 1, 0, -1 do h[#h + 1] = redis.call('HGETALL', base .. 'oh:' .. (hour - 3600 * j)) end
local function hot(side)
  local args = {buckets}
  local bucket = now - now % bucket_s
  for j = 0, buckets - 1 do args[#args + 1] = base .. side .. (bucket - bucket_s * j) end
  args[#args + 1] = 'WITHSCORES'
  -- At most buckets x HOT_KEPT members: the caller sorts and cuts (ties in name order).
  return redis.call('ZUNION', unpack(args))
end
return {now, m, h, hot('hr:'), hot('hw:')}
"""

# KEYS: the brand's stats key. ARGV: base, minutes, hours, bucket s, buckets. Deletes every
# counter a brand can still have (their names follow from Redis' clock and the retention).
OPS_DELETE = r"""
local base = ARGV[1]
-- Every flush adds to the since-ever totals: a brand without them has no counter at all, and
-- deleting it (a brand's deletion, the test suite's cleanup of every brand it touched) need not
-- name the ~2,200 keys of a day of minutes and a month of hours.
if redis.call('EXISTS', base .. 'ot') == 0 then return 0 end
local now = tonumber(redis.call('TIME')[1])
local names = {base .. 'ot'}
local deleted = 0
local function flush_names()
  if #names > 0 then deleted = deleted + redis.call('DEL', unpack(names)) end
  names = {}
end
local minute, hour = now - now % 60, now - now % 3600
for j = 0, tonumber(ARGV[2]) do
  names[#names + 1] = base .. 'om:' .. (minute - 60 * j)
  if #names >= 500 then flush_names() end
end
for j = 0, tonumber(ARGV[3]) do
  names[#names + 1] = base .. 'oh:' .. (hour - 3600 * j)
  if #names >= 500 then flush_names() end
end
local bucket_s = tonumber(ARGV[4])
local bucket = now - now % bucket_s
for j = 0, tonumber(ARGV[5]) do
  names[#names + 1] = base .. 'hr:' .. (bucket - bucket_s * j)
  names[#names + 1] = base .. 'hw:' .. (bucket - bucket_s * j)
end
flush_names()
return deleted
"""

SCRIPTS.register(OPS_FLUSH=OPS_FLUSH, OPS_READ=OPS_READ, OPS_DELETE=OPS_DELETE)
_FLUSH_TAIL = (MINUTE_KEEP_S, HOUR_KEEP_S, HOT_BUCKET_S, HOT_KEEP_S, HOT_KEPT)


class _Tally(threading.local):
    """What this thread counted since its last flush, by brand key base (which carries the
    prefix in force when the call was made, so a flush after a settings change still writes
    where the call belonged)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}
        self.reads: dict[tuple[str, str], int] = {}
        self.writes: dict[tuple[str, str], int] = {}
        # base -> the BrandCache that counted first: its stats key anchors the flush script in
        # the brand's slot, and its client (already made by its call) sends the flush.
        self.caches: dict[str, Any] = {}
        self.calls = 0


_tally = _Tally()
# A forked child (a script worker from the zygote) must not flush what its parent counted.
os.register_at_fork(after_in_child=_tally.reset)


def _flush_at_exit() -> None:
    """A management command (seed_demo, a shell) counts in its main thread and may end before
    AUTO_FLUSH_CALLS: what it counted goes out when the interpreter exits. Never fails."""
    with contextlib.suppress(Exception):
        flush()


atexit.register(_flush_at_exit)


def record(cache: Any, field_name: str, *, read: str | None = None, wrote: str | None = None) -> None:
    """Count one call (``field_name`` from FIELDS) of ``cache`` (a BrandCache); ``read`` /
    ``wrote`` the key it read or changed (hot keys). No I/O, except the auto flush."""
    tally = _tally
    base = cache.ops_base
    slot = (base, field_name)
    counts = tally.counts
    counts[slot] = counts.get(slot, 0) + 1
    if read is not None:
        slot = (base, read)
        tally.reads[slot] = tally.reads.get(slot, 0) + 1
    elif wrote is not None:
        slot = (base, wrote)
        tally.writes[slot] = tally.writes.get(slot, 0) + 1
    if base not in tally.caches:
        tally.caches[base] = cache
    tally.calls += 1
    if tally.calls >= AUTO_FLUSH_CALLS:
        flush()


def pending_calls() -> int:
    """Calls counted by this thread and not flushed yet."""
    return _tally.calls


def discard() -> None:
    """Forget this thread's unflushed counts (a benchmark's, once its keys are gone)."""
    _tally.reset()


def _calls(tally_counts, reads, writes, caches) -> list[tuple[list, list]]:
    per_base: dict[str, tuple[list, list, list]] = {base: ([], [], []) for base in caches}
    for (base, name), count in tally_counts.items():
        per_base[base][0].extend((name, count))
    for (base, name), count in reads.items():
        per_base[base][1].extend((name, count))
    for (base, name), count in writes.items():
        per_base[base][2].extend((name, count))
    return [
        ([caches[base].keys.stats], [base, len(fields) // 2, *fields, len(read_keys) // 2, *read_keys,
                                     len(written_keys) // 2, *written_keys, *_FLUSH_TAIL])
        for base, (fields, read_keys, written_keys) in per_base.items()
    ]


def take() -> list[tuple[list, list]]:
    """This thread's counts as OPS_FLUSH calls (KEYS, ARGV), plain data that crosses a process
    boundary, and an empty tally: a script worker hands them to the process that gives the run's
    scheduling slot back, which sends them in that same round trip (``send_with``)."""
    tally = _tally
    if not tally.calls:
        return []
    calls = _calls(tally.counts, tally.reads, tally.writes, tally.caches)
    tally.reset()
    return calls


def send_with(batch: Any, calls: list) -> None:
    """Add OPS_FLUSH calls from ``take`` to a ScriptBatch (brands.cache.scripts)."""
    for keys, args in calls:
        batch.script("OPS_FLUSH", list(keys), list(args))


def flush() -> bool:
    """Send this thread's counts to Redis: one script per brand, several brands in one pipeline
    (one round trip on a single server, one per node on Redis Cluster). Nothing to send,
    nothing sent. Returns False when Redis was unreachable (the counts are dropped)."""
    tally = _tally
    if not tally.calls:
        return True
    counts, reads, writes, caches = tally.counts, tally.reads, tally.writes, tally.caches
    tally.reset()
    calls = _calls(counts, reads, writes, caches)
    try:
        client = next(iter(caches.values())).client
        if len(calls) == 1:
            # The usual case (a script run or a request touches one brand): a plain EVALSHA
            # costs ~20 µs less than a one-command pipeline (cache_bench measured it).
            SCRIPTS.run("OPS_FLUSH", client, *calls[0])
        else:
            SCRIPTS.run_many(client, "OPS_FLUSH", calls)
    except UNAVAILABLE_ERRORS:
        return False
    except RedisError:
        # A script error would be a bug here, but counting must never fail the cache call (or
        # the request, or the script run) that happened to trigger the flush.
        logger.exception("operation counts could not be sent")
        return False
    return True


# ---------------------------------------------------------------------------- reading


def _counts(flat: list) -> dict[str, int]:
    return {flat[i].decode(): int(flat[i + 1]) for i in range(0, len(flat), 2)}


@dataclass(frozen=True)
class HotKey:
    key: str
    count: int


@dataclass(frozen=True)
class OpsHistory:
    """One brand's counters: ``minutes`` (the last 60, oldest first) and ``hours`` (the last
    24, oldest first), each {"<source>:<kind>": count}; the start of the newest minute and hour
    (epoch s, Redis clock); the hot keys of the last hour, busiest first."""

    now_s: int
    minutes: list[dict[str, int]]
    hours: list[dict[str, int]]
    hot_reads: list[HotKey] = field(default_factory=list)
    hot_writes: list[HotKey] = field(default_factory=list)

    @property
    def minute_s(self) -> int:
        return self.now_s - self.now_s % 60

    @property
    def hour_s(self) -> int:
        return self.now_s - self.now_s % 3600


def _hot(flat: list) -> list[HotKey]:
    keys = [HotKey(flat[i].decode(), int(float(flat[i + 1]))) for i in range(0, len(flat), 2)]
    # Busiest first; equal counts in name order, so the list is stable between two loads.
    return sorted(keys, key=lambda hot: (-hot.count, hot.key))


def ops_history(brand_id: int, *, minutes: int = 60, hours: int = 24, top: int = 10) -> OpsHistory:
    """The usage page's counters of one brand: one script, one round trip. Raises
    CacheUnavailable."""
    keys = BrandKeys.for_brand(brand_id)
    try:
        now, m, h, hot_reads, hot_writes = SCRIPTS.run(
            "OPS_READ", redis_client(), [keys.stats],
            [keys.ops_base, int(minutes), int(hours), HOT_BUCKET_S, HOT_BUCKETS_PER_HOUR],
        )
    except UNAVAILABLE_ERRORS as exc:
        raise CacheUnavailable() from exc
    return OpsHistory(now_s=int(now), minutes=[_counts(row) for row in m], hours=[_counts(row) for row in h],
                      hot_reads=_hot(hot_reads)[:top], hot_writes=_hot(hot_writes)[:top])


def brands_ops_totals(brand_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Every brand's counters since it began ({"<source>:<kind>": count}), in one pipeline
    (/metrics). Raises CacheUnavailable."""
    brand_ids = list(brand_ids)
    if not brand_ids:
        return {}
    try:
        batch = SCRIPTS.batch(redis_client())
        for brand_id in brand_ids:
            batch.command("HGETALL", BrandKeys.for_brand(brand_id).ops_totals)
        replies = batch.execute()
    except UNAVAILABLE_ERRORS as exc:
        raise CacheUnavailable() from exc
    return {
        brand_id: {name.decode(): int(count) for name, count in reply.items()}
        for brand_id, reply in zip(brand_ids, replies, strict=True)
    }


def _forget(base: str) -> None:
    """Drop this thread's unflushed counts of one brand."""
    tally = _tally
    tally.calls -= sum(count for (owner, _), count in tally.counts.items() if owner == base)
    for table in (tally.counts, tally.reads, tally.writes):
        for slot in [slot for slot in table if slot[0] == base]:
            del table[slot]
    tally.caches.pop(base, None)
    if not tally.caches:
        tally.reset()


def delete_ops(keys: BrandKeys) -> int:
    """Delete every counter of the brand (brand deletion): one script. What this thread counted
    for it and has not sent is dropped first, so the request that deletes a brand cannot bring
    its counters back. Redis errors propagate (the service's admin operations turn them into
    CacheUnavailable)."""
    _forget(keys.ops_base)
    return int(SCRIPTS.run("OPS_DELETE", redis_client(), [keys.stats], [
        keys.ops_base, MINUTE_KEEP_S // 60 + 1, HOUR_KEEP_S // 3600 + 1, HOT_BUCKET_S,
        HOT_KEEP_S // HOT_BUCKET_S + 1,
    ]))
