"""Fair scheduling of script executions (docs/contract.md#fair-scheduling).

Around every execution, whoever asks for it (console, JSON API, run_script):

1. take one of the brand's execution slots in Redis (``QuotaSettings.max_concurrent_scripts``,
   shared by every web process), waiting at most ``SCRIPT_BUSY_WAIT_MS``; refused when the brand's
   time-limit budget is spent;
2. take a free worker of this process's pool, waiting at most ``SCRIPT_WORKER_WAIT_MS``;
3. run, then give the slot back in the same round trip that records the outcome, the duration
   and, for a run that hit the time limit, its charge against the budget.

Refusals come back as execution results (``ok`` false, ``error`` BusyError / BudgetError /
InternalError) and as an ``Execution`` that tells the view which HTTP status and Retry-After fit.
"""

from __future__ import annotations

import contextlib
import logging
import math
import secrets
import time
from dataclasses import dataclass

from django.conf import settings

from brands.cache import CacheUnavailable, script_slot_acquire, script_slot_release
from brands.scripting.outcome import OP_COUNTS_KEY, Outcome, error_info
from brands.scripting.pool import PoolUnavailable, ScriptPool, get_pool

logger = logging.getLogger(__name__)

# Between two tries for a busy brand's slot.
BUSY_POLL_S = 0.02
# A run that hits the time limit is charged this on top of its time: its worker is killed and a
# replacement started (measured at ~0.4 s of CPU on the development machine).
REPLACEMENT_CHARGE_MS = 500
# A slot is held at most this long past the worker wait and the time limit, should the process
# holding it die (then the slot frees itself when its lease ends).
LEASE_MARGIN_MS = 2000

BUSY_MESSAGE = "another script of this brand is still running"


@dataclass(frozen=True)
class Execution:
    """One execution as the views need it: the result, its outcome (brands.cache.OUTCOMES) and,
    for a refusal, the HTTP status and the seconds after which trying again makes sense."""

    result: dict
    outcome: str
    retry_after_s: int | None = None

    @property
    def refused(self) -> bool:
        return self.outcome in ("busy", "budget", "unavailable")

    @property
    def http_status(self) -> int:
        if self.outcome in ("busy", "budget"):
            return 429
        if self.outcome == "unavailable":
            return 503
        return 200


def outcome_of(result: dict) -> str:
    """The outcome kind of a finished execution's result."""
    if result.get("ok"):
        return "ok"
    error = result.get("error") or {}
    name, message = error.get("name"), str(error.get("message", ""))
    if name == "TimeoutError":
        return "timeout"
    if name == "InternalError" and message.startswith("out of memory"):
        return "memory"
    return "error"


def _refusal(job: dict, name: str, message: str) -> dict:
    return Outcome(int(job["ops_limit"])).to_result(ok=False, error=error_info(name, message))


def _busy_wait_s() -> float:
    return max(0, getattr(settings, "SCRIPT_BUSY_WAIT_MS", 250)) / 1000


def _take_slot(brand_id: int, job: dict, cap: int, lease_ms: int) -> tuple[str | None, Execution | None]:
    """(token, None) with a slot, (None, None) when Redis is unreachable (the run goes ahead:
    docs/contract.md#fair-scheduling), or (None, refusal)."""
    token = secrets.token_hex(8)
    deadline = time.monotonic() + _busy_wait_s()
    budget_ms = int(getattr(settings, "SCRIPT_OVERRUN_BUDGET_MS", 10_000))
    while True:
        last = time.monotonic() + BUSY_POLL_S > deadline
        try:
            grant = script_slot_acquire(brand_id, token, cap=cap, lease_ms=lease_ms, budget_ms=budget_ms,
                                        count_refusal=last)
        except CacheUnavailable:
            logger.warning("script slots unavailable (Redis); brand %s's script runs unscheduled", brand_id)
            return None, None
        if grant.granted:
            return token, None
        if grant.status == "budget":
            seconds = max(1, math.ceil(grant.retry_after_ms / 1000))
            message = (
                "this brand's scripts hit the time limit too often: new runs are refused for "
                f"{seconds} s more"
            )
            return None, Execution(_refusal(job, "BudgetError", message), "budget", seconds)
        if last:
            message = f"{BUSY_MESSAGE} (at most {cap} at a time); try again in a moment"
            return None, Execution(_refusal(job, "BusyError", message), "busy", 1)
        time.sleep(BUSY_POLL_S)


def execute_scheduled(job: dict, *, cap: int, pool: ScriptPool | None = None) -> Execution:
    """Run ``job`` (brands.scripting.build_job) under the brand's cap and budget."""
    brand_id = int(job["brand_id"])
    pool = pool or get_pool()
    timeout_ms = int(job["timeout_ms"])
    # The lease covers the whole wait for a worker, the time limit and a margin.
    lease_ms = int(pool.longest_wait_s * 1000) + timeout_ms + LEASE_MARGIN_MS
    token, refusal = _take_slot(brand_id, job, max(1, int(cap)), lease_ms)
    if refusal is not None:
        return refusal
    started = time.monotonic()
    try:
        result = pool.execute(job, timeout_ms=timeout_ms)
    except PoolUnavailable as exc:
        refusal = _refusal(job, "InternalError", f"Scripts are unavailable: {exc}")
        execution = Execution(refusal, "unavailable", 1)
        _release(brand_id, token, execution.outcome, None, 0)
        return execution
    except BaseException:
        _release(brand_id, token, "error", (time.monotonic() - started) * 1000, 0)
        raise
    op_counts = result.pop(OP_COUNTS_KEY, None)
    outcome = outcome_of(result)
    charge = 0
    if outcome == "timeout":
        charge = int(result.get("duration_ms") or timeout_ms) + REPLACEMENT_CHARGE_MS
    state = _release(brand_id, token, outcome, result.get("duration_ms"), charge, op_counts)
    budget_ms = int(getattr(settings, "SCRIPT_OVERRUN_BUDGET_MS", 10_000))
    if charge and state is not None and state.used_ms >= budget_ms:
        seconds = max(1, math.ceil(state.window_left_ms / 1000))
        result.setdefault("warnings", []).append(
            "This brand's scripts hit the time limit too often: new runs are refused for "
            f"{seconds} s"
        )
    return Execution(result, outcome)


def _release(brand_id: int, token: str | None, outcome: str, duration_ms: float | None, charge_ms: int,
             op_counts: list | None = None):
    window_ms = int(getattr(settings, "SCRIPT_OVERRUN_WINDOW_MS", 60_000))
    with contextlib.suppress(CacheUnavailable):
        # Statistics are best effort; an unreleased slot frees itself at the end of its lease.
        return script_slot_release(brand_id, token, outcome=outcome, duration_ms=duration_ms,
                                   charge_ms=charge_ms, window_ms=window_ms, op_counts=op_counts)
    return None


def record_unscheduled(brand_id: int, outcome: str) -> None:
    """Count an execution refused before scheduling (a script over the length limit)."""
    _release(brand_id, None, outcome, None, 0)
