"""Backend scripts: JavaScript (QuickJS) against the brand's cache, in a pool of worker processes.

    from brands.scripting import run_script
    result = run_script(brand, "cache.increment('page:home:views')")

``result`` is the execution result of docs/contract.md#execution-result. Imports go one way:
views -> scripting -> cache.

    scheduling.py  fair scheduling: the brand's slots in Redis, the worker wait, statistics
    pool.py      long-lived worker processes and the wall-clock limit (parent side)
    worker.py    the worker process: JSON lines over pipes
    sandbox.py   one execution inside a worker: QuickJS context and the host functions
    prelude.js   the script globals, evaluated before the user's code
    outcome.py   what an execution produced, and the execution result's JSON form
    limits.py    the sandbox's fixed bounds
    history.py   the console's history (ScriptRun) and its audit entries; imported as
                 brands.scripting.history, not from here: a worker process imports this package
                 before Django is set up, so nothing here may import the models
    examples.py  the console's example scripts
"""

from __future__ import annotations

from dataclasses import asdict

from brands.cache import CacheLimits
from brands.scripting import limits
from brands.scripting.examples import EXAMPLES, EXAMPLES_BY_SLUG
from brands.scripting.outcome import RESULT_FIELDS, Outcome, error_info
from brands.scripting.pool import PoolUnavailable, ScriptPool, get_pool, shutdown_pool
from brands.scripting.scheduling import BUSY_MESSAGE, Execution, execute_scheduled, record_unscheduled

__all__ = [
    "BUSY_MESSAGE",
    "EXAMPLES",
    "EXAMPLES_BY_SLUG",
    "RESULT_FIELDS",
    "Execution",
    "PoolUnavailable",
    "ScriptPool",
    "build_job",
    "execute_job",
    "get_pool",
    "limits",
    "refused_result",
    "run_script",
    "run_script_execution",
    "shutdown_pool",
]


def build_job(*, brand_id: int, quota, code: str) -> dict:
    """Everything a worker needs for one execution; it never reads the database."""
    return {
        "brand_id": int(brand_id),
        "code": code,
        "limits": asdict(CacheLimits.from_quota(quota)),
        "ops_limit": quota.max_ops_per_execution,
        "memory_mb": quota.script_memory_mb,
        "timeout_ms": quota.script_timeout_ms,
    }


def execute_job(job: dict, *, cap: int = 1, pool: ScriptPool | None = None) -> Execution:
    """Run a job under the brand's cap of executions in flight (``cap``) and its time-limit
    budget; every execution, refusals included, is counted in the brand's script statistics."""
    code = job["code"]
    if not isinstance(code, str) or len(code) > limits.MAX_CODE_CHARS:
        result = Outcome(int(job["ops_limit"])).to_result(
            ok=False,
            error=error_info(
                "RangeError", f"The script is too long: at most {limits.MAX_CODE_CHARS} characters"
            ),
        )
        record_unscheduled(int(job["brand_id"]), "error")
        return Execution(result, "error")
    return execute_scheduled(job, cap=cap, pool=pool)


def run_script_execution(brand, code: str, *, pool: ScriptPool | None = None) -> Execution:
    """Run ``code`` for ``brand`` (its quota row gives every limit and the cap). A deactivated
    brand runs nothing (Brand.write_refusal: its cache is read only); that is not a run, so it is
    not counted in the brand's script statistics."""
    quota = brand.quota
    refusal = brand.write_refusal()
    if refusal is not None:
        return Execution(refused_result(quota, refusal), "error")
    return execute_job(build_job(brand_id=brand.pk, quota=quota, code=code),
                       cap=quota.max_concurrent_scripts, pool=pool)


def refused_result(quota, message: str) -> dict:
    """The execution result of a script that was not run at all (``ok`` false, ``ops`` 0)."""
    return Outcome(int(quota.max_ops_per_execution)).to_result(ok=False, error=error_info("Error", message))


def run_script(brand, code: str, *, pool: ScriptPool | None = None) -> dict:
    """Run ``code`` for ``brand`` and return the execution result."""
    return run_script_execution(brand, code, pool=pool).result
