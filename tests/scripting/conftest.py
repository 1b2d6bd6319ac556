"""Fixtures for the script sandbox tests: one real worker pool per test session."""

from __future__ import annotations

import pytest

from brands.scripting import get_pool, run_script, shutdown_pool


@pytest.fixture(scope="session")
def script_pool():
    """The process's default pool (settings.SCRIPT_WORKERS real worker processes), started once
    for the whole session and stopped at its end."""
    pool = get_pool()
    yield pool
    shutdown_pool()


@pytest.fixture
def run(script_pool, brand):
    """run(code) -> execution result, for the test's clean brand (or ``brand=`` another one)."""

    def execute(code: str, *, brand=brand) -> dict:
        result = run_script(brand, code, pool=script_pool)
        assert set(result) == {
            "ok", "result", "variables", "redirect", "logs", "ops", "ops_limit", "duration_ms", "error",
            "warnings",
        }
        return result

    return execute

