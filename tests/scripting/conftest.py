"""Fixtures for the script sandbox tests (the session's worker pool is in tests/conftest.py)."""

from __future__ import annotations

import pytest

from brands.scripting import RESULT_FIELDS, run_script


@pytest.fixture
def run(script_pool, brand):
    """run(code) -> execution result, for the test's clean brand (or ``brand=`` another one)."""

    def execute(code: str, *, brand=brand) -> dict:
        result = run_script(brand, code, pool=script_pool)
        assert set(result) == set(RESULT_FIELDS) == {
            "ok", "result", "variables", "redirect", "logs", "ops", "ops_limit", "duration_ms", "error",
            "warnings", "written_keys",
        }
        return result

    return execute

