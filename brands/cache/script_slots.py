"""Script executions in flight per brand, the time-limit budget and the script statistics, in Redis.

Every web process has its own worker pool, so a per-brand cap on executions in flight has to be
counted where all of them see it (docs/contract.md#fair-scheduling). Each brand has, under its
own hash tag (so each call is one script on one Redis Cluster slot):

    <prefix>:{<id>}:rn   sorted set: one token per execution in flight -> lease expiry (ms, Redis
                         clock). An entry whose lease has passed no longer counts, so a process
                         that dies mid-execution cannot hold a slot for longer than one lease.
    <prefix>:{<id>}:rs   hash: executions by outcome (runs, ok, error, timeout, memory, budget,
                         busy, unavailable); refusals are counted by the acquire script itself
    <prefix>:{<id>}:rd   list: durations (ms) of the latest executions, newest first, bounded
    <prefix>:{<id>}:rb   ms of time-limit overruns charged in the current window; the key
                         expires with the window (set on the first charge)

One round trip to take a slot (EVALSHA of ACQUIRE) and one to give it back (RELEASE), which also
records the outcome, the duration and any overrun charge: statistics cost no extra round trip.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from redis.exceptions import RedisError

from brands.cache import opcounts
from brands.cache.connection import UNAVAILABLE_ERRORS, redis_client
from brands.cache.errors import CacheUnavailable
from brands.cache.layout import BrandKeys
from brands.cache.scripts import SCRIPTS

logger = logging.getLogger(__name__)

# What an execution can end as (docs/contract.md#fair-scheduling): the script ran to its end,
# failed with an error, hit its time or memory limit, was refused because the brand's time-limit
# budget is spent or because it already has its cap of executions in flight, or could not get a
# worker (all busy, or workers failing).
OUTCOMES = ("ok", "error", "timeout", "memory", "budget", "busy", "unavailable")

# How many of the latest durations each brand keeps for its p50 / p95.
DURATION_HISTORY = 500

# KEYS: slots, stats, durations, budget. ARGV: token, cap, lease ms, budget ms, count a busy
# refusal ("1"/"0": the caller's last try; a budget refusal is final and always counted).
# Returns {1, 0} granted, {-1, 0} busy (cap reached), {-2, ms until the budget window ends}
# budget spent.
SCRIPT_SLOT_ACQUIRE = r"""
local slots, stats, budget = KEYS[1], KEYS[2], KEYS[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[3])
local used = tonumber(redis.call('GET', budget) or '0')
if used >= tonumber(ARGV[4]) then
  local left = redis.call('PTTL', budget)
  if left < 0 then
    -- A window without expiry cannot happen through RELEASE; never refuse forever.
    redis.call('DEL', budget)
  else
    redis.call('HINCRBY', stats, 'runs', 1)
    redis.call('HINCRBY', stats, 'budget', 1)
    return {-2, left}
  end
end
redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
if redis.call('ZCARD', slots) >= tonumber(ARGV[2]) then
  if ARGV[5] == '1' then
    redis.call('HINCRBY', stats, 'runs', 1)
    redis.call('HINCRBY', stats, 'busy', 1)
  end
  return {-1, 0}
end
redis.call('ZADD', slots, now + lease, ARGV[1])
if redis.call('PTTL', slots) < lease then
  redis.call('PEXPIRE', slots, lease)
end
return {1, 0}
"""

# KEYS: slots, stats, durations, budget. ARGV: token, outcome, duration ms ("" for none), charge ms,
# budget window ms, history length. Returns {budget ms used in the window, ms left in it}.
SCRIPT_SLOT_RELEASE = r"""
local slots, stats, durations, budget = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
redis.call('ZREM', slots, ARGV[1])
redis.call('HINCRBY', stats, 'runs', 1)
redis.call('HINCRBY', stats, ARGV[2], 1)
if ARGV[3] ~= '' then
  redis.call('LPUSH', durations, ARGV[3])
  redis.call('LTRIM', durations, 0, tonumber(ARGV[6]) - 1)
end
local charge = tonumber(ARGV[4])
if charge > 0 then
  redis.call('INCRBY', budget, charge)
  if redis.call('PTTL', budget) < 0 then
    redis.call('PEXPIRE', budget, tonumber(ARGV[5]))
  end
end
return {tonumber(redis.call('GET', budget) or '0'), redis.call('PTTL', budget)}
"""

SCRIPTS.register(SCRIPT_SLOT_ACQUIRE=SCRIPT_SLOT_ACQUIRE, SCRIPT_SLOT_RELEASE=SCRIPT_SLOT_RELEASE)


@dataclass(frozen=True)
class SlotGrant:
    """The answer of ``script_slot_acquire``: ``granted``, ``busy`` or ``budget``."""

    status: str
    retry_after_ms: int = 0

    @property
    def granted(self) -> bool:
        return self.status == "granted"


@dataclass(frozen=True)
class BudgetState:
    """The brand's time-limit budget after a release: ms charged in the window, ms left of it."""

    used_ms: int
    window_left_ms: int


def _percentile(ordered: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of sorted samples (None without samples)."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass(frozen=True)
class ScriptStats:
    """A brand's script executions: totals by outcome since its stats began, and p50 / p95 of the
    latest ``DURATION_HISTORY`` executions (refusals have no duration)."""

    counts: dict[str, int] = field(default_factory=dict)
    durations_ms: tuple[float, ...] = ()

    @property
    def runs(self) -> int:
        return self.counts.get("runs", 0)

    @property
    def failures(self) -> int:
        return sum(self.counts.get(kind, 0) for kind in OUTCOMES if kind != "ok")

    def count(self, outcome: str) -> int:
        return self.counts.get(outcome, 0)

    @property
    def p50_ms(self) -> float | None:
        return _percentile(sorted(self.durations_ms), 0.50)

    @property
    def p95_ms(self) -> float | None:
        return _percentile(sorted(self.durations_ms), 0.95)

    @classmethod
    def from_replies(cls, raw_counts: dict, raw_durations: list) -> ScriptStats:
        counts = {k.decode() if isinstance(k, bytes) else str(k): int(v) for k, v in raw_counts.items()}
        return cls(counts=counts, durations_ms=tuple(float(d) for d in raw_durations))


def script_slot_acquire(brand_id: int, token: str, *, cap: int, lease_ms: int, budget_ms: int,
                        count_refusal: bool) -> SlotGrant:
    """Take one of the brand's ``cap`` execution slots for ``lease_ms`` under ``token``, unless the
    brand's time-limit budget is spent. A busy refusal is counted in the stats when
    ``count_refusal`` (the caller's last attempt); a budget refusal always is. Raises
    CacheUnavailable when Redis cannot be reached."""
    keys = BrandKeys.for_brand(brand_id)
    try:
        status, retry = SCRIPTS.run(
            "SCRIPT_SLOT_ACQUIRE", redis_client(), keys.run_keys,
            [token, max(1, int(cap)), max(1, int(lease_ms)), max(0, int(budget_ms)),
             "1" if count_refusal else "0"],
        )
    except UNAVAILABLE_ERRORS as exc:
        raise CacheUnavailable() from exc
    status = int(status)
    if status == 1:
        return SlotGrant("granted")
    return SlotGrant("busy" if status == -1 else "budget", retry_after_ms=max(0, int(retry)))


def script_slot_release(brand_id: int, token: str | None, *, outcome: str, duration_ms: float | None,
                        charge_ms: int = 0, window_ms: int = 60_000, op_counts: list | None = None
                        ) -> BudgetState:
    """Give the slot back (``token`` None when none was held, e.g. a run that went ahead while
    Redis was unreachable) and record the execution: its outcome, its duration (None when it did
    not run, e.g. no worker was free), and ``charge_ms``
    against the brand's time-limit budget (a window of ``window_ms`` starts with the first
    charge). ``op_counts``: the run's operation counts (brands.cache.opcounts.take), sent in the
    same round trip. Raises CacheUnavailable when Redis cannot be reached."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown script outcome {outcome!r}")
    keys = BrandKeys.for_brand(brand_id)
    args = [token or "", outcome, "" if duration_ms is None else f"{max(0.0, float(duration_ms)):.3f}",
            max(0, int(charge_ms)), max(1, int(window_ms)), DURATION_HISTORY]
    try:
        if not op_counts:
            used, left = SCRIPTS.run("SCRIPT_SLOT_RELEASE", redis_client(), keys.run_keys, args)
        else:
            # One pipeline: on Redis Cluster the brand's counters and slots share its node.
            batch = SCRIPTS.batch(redis_client())
            batch.script("SCRIPT_SLOT_RELEASE", keys.run_keys, args)
            opcounts.send_with(batch, op_counts)
            try:
                used, left = batch.execute()[0]
            except UNAVAILABLE_ERRORS:
                raise
            except RedisError:
                # A counter script failing (a bug) must not fail the run: every call of the
                # pipeline was sent and run; only the budget figures are unknown.
                logger.exception("script slot released with operation counts that failed")
                return BudgetState(used_ms=0, window_left_ms=0)
    except UNAVAILABLE_ERRORS as exc:
        raise CacheUnavailable() from exc
    return BudgetState(used_ms=int(used), window_left_ms=int(left))


def brands_script_stats(brand_ids: Iterable[int]) -> dict[int, ScriptStats]:
    """Script statistics of many brands in one pipeline (usage page, /metrics): one round trip on
    a single server, one per node on Redis Cluster."""
    brand_ids = list(brand_ids)
    if not brand_ids:
        return {}
    try:
        batch = SCRIPTS.batch(redis_client())
        for brand_id in brand_ids:
            keys = BrandKeys.for_brand(brand_id)
            batch.command("HGETALL", keys.script_stats)
            batch.command("LRANGE", keys.script_durations, 0, DURATION_HISTORY - 1)
        replies = batch.execute()
    except UNAVAILABLE_ERRORS as exc:
        raise CacheUnavailable() from exc
    return {
        brand_id: ScriptStats.from_replies(replies[2 * i], replies[2 * i + 1])
        for i, brand_id in enumerate(brand_ids)
    }
