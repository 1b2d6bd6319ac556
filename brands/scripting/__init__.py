"""Backend scripts: JavaScript (QuickJS) against the brand's cache, in a pool of worker processes.

    from brands.scripting import run_script
    result = run_script(brand, "cache.increment('page:home:views')")

``result`` is the execution result of docs/contract.md#execution-result. Imports go one way:
views -> scripting -> cache.

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

__all__ = [
    "EXAMPLES",
    "EXAMPLES_BY_SLUG",
    "RESULT_FIELDS",
    "PoolUnavailable",
    "ScriptPool",
    "build_job",
    "execute_job",
    "get_pool",
    "limits",
    "refused_result",
    "run_script",
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


def execute_job(job: dict, *, pool: ScriptPool | None = None) -> dict:
    code = job["code"]
    if not isinstance(code, str) or len(code) > limits.MAX_CODE_CHARS:
        return Outcome(int(job["ops_limit"])).to_result(
            ok=False,
            error=error_info(
                "RangeError", f"The script is too long: at most {limits.MAX_CODE_CHARS} characters"
            ),
        )
    pool = pool or get_pool()
    try:
        return pool.execute(job, timeout_ms=int(job["timeout_ms"]))
    except PoolUnavailable as exc:
        return Outcome(int(job["ops_limit"])).to_result(
            ok=False, error=error_info("InternalError", f"Scripts are unavailable: {exc}")
        )


def refused_result(quota, message: str) -> dict:
    """The execution result of a script that was not run at all (``ok`` false, ``ops`` 0)."""
    return Outcome(int(quota.max_ops_per_execution)).to_result(ok=False, error=error_info("Error", message))


def run_script(brand, code: str, *, pool: ScriptPool | None = None) -> dict:
    """Run ``code`` for ``brand`` (its quota row gives every limit) and return the result. A
    deactivated brand runs nothing (Brand.write_refusal: its cache is read only)."""
    refusal = brand.write_refusal()
    if refusal is not None:
        return refused_result(brand.quota, refusal)
    return execute_job(build_job(brand_id=brand.pk, quota=brand.quota, code=code), pool=pool)
