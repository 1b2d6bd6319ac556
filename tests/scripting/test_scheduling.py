"""Fair scheduling (docs/contract.md#fair-scheduling): the per-brand cap of executions in flight
(in Redis, across processes), the short waits, the warm spare worker and the time-limit budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings

from brands.cache import brands_script_stats, script_slot_acquire, script_slot_release
from brands.models import QuotaSettings
from brands.scripting import BUSY_MESSAGE, PoolUnavailable, ScriptPool, build_job, run_script_execution
from brands.scripting.pool import PROJECT_DIR
from tests.support.scripts import value


def _in_background(target) -> tuple[threading.Thread, dict]:
    box: dict = {}
    thread = threading.Thread(target=lambda: box.update(execution=target()))
    thread.start()
    return thread, box


def _wait_until(predicate, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def _slots_in_use(brand) -> bool:
    probe = script_slot_acquire(brand.pk, "probe", cap=1, lease_ms=1, budget_ms=10**9, count_refusal=False)
    if probe.granted:
        script_slot_release(brand.pk, "probe", outcome="ok", duration_ms=None)
        # The probe counted as a run; tests that count runs read the counters before probing.
    return not probe.granted


def test_a_brand_over_its_cap_is_refused_quickly_while_another_brand_runs(script_pool, brand_factory):
    flooding = brand_factory(script_timeout_ms=5000)
    quiet = brand_factory()
    thread, box = _in_background(lambda: run_script_execution(flooding, "while (true) {}", pool=script_pool))
    try:
        _wait_until(lambda: _slots_in_use(flooding))
        refused = run_script_execution(flooding, "1", pool=script_pool)
        assert thread.is_alive()  # refused long before the running script's 5 s limit
        assert refused.outcome == "busy" and refused.http_status == 429 and refused.retry_after_s == 1
        assert refused.result["ok"] is False and refused.result["ops"] == 0
        assert refused.result["error"]["name"] == "BusyError"
        assert refused.result["error"]["message"].startswith(BUSY_MESSAGE)
        # The other brand is not affected.
        for i in range(3):
            quick = run_script_execution(quiet, f"cache.increment('n'); {i}", pool=script_pool)
            assert value(quick.result) == i
    finally:
        thread.join()
    assert box["execution"].outcome == "timeout"
    stats = brands_script_stats([flooding.pk, quiet.pk])
    assert stats[flooding.pk].count("busy") == 1 and stats[flooding.pk].count("timeout") == 1
    assert stats[quiet.pk].count("ok") == 3 and stats[quiet.pk].failures == 0


def test_staff_can_raise_the_cap(script_pool, brand_factory):
    if script_pool.size < 2:
        pytest.skip("needs two workers")
    brand = brand_factory(script_timeout_ms=3000, max_concurrent_scripts=2)
    thread, box = _in_background(lambda: run_script_execution(brand, "while (true) {}", pool=script_pool))
    try:
        _wait_until(lambda: script_pool.ready_count() < script_pool.processes)
        assert value(run_script_execution(brand, "'second'", pool=script_pool).result) == "second"
    finally:
        thread.join()


def test_a_slot_left_by_a_dead_process_frees_itself_at_the_end_of_its_lease(script_pool, brand):
    # As if a web process took the slot and died before giving it back.
    assert script_slot_acquire(brand.pk, "crashed", cap=1, lease_ms=600, budget_ms=10**9,
                               count_refusal=False).granted
    assert run_script_execution(brand, "1", pool=script_pool).outcome == "busy"
    time.sleep(0.7)
    assert value(run_script_execution(brand, "2", pool=script_pool).result) == 2


CHILD = """
import json, os, sys
import django
django.setup()
from brands.models import QuotaSettings
from brands.scripting import ScriptPool, build_job, execute_job
pool = ScriptPool(1, spare=0)
quota = QuotaSettings(script_timeout_ms=int(sys.argv[2]))
job = build_job(brand_id=int(sys.argv[1]), quota=quota, code="while (true) {}")
print(json.dumps({"outcome": execute_job(job, cap=1, pool=pool).outcome}), flush=True)
pool.close()
"""


def test_the_cap_holds_across_processes(script_pool, brand):
    """Another process (as another gunicorn worker would) runs the brand's script: this process
    is refused for the same brand while it runs."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="cacheadmin.settings_test",
               CACHEADMIN_KEY_PREFIX=settings.CACHEADMIN_KEY_PREFIX)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(brand.pk), "4000"], cwd=PROJECT_DIR, env=env,
                             stdout=subprocess.PIPE, text=True)
    try:
        _wait_until(lambda: _slots_in_use(brand), timeout_s=60)
        refused = run_script_execution(brand, "1", pool=script_pool)
        assert child.poll() is None
        assert refused.outcome == "busy"
        out, _ = child.communicate(timeout=60)
        assert json.loads(out.strip().splitlines()[-1]) == {"outcome": "timeout"}
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert value(run_script_execution(brand, "3", pool=script_pool).result) == 3


def test_no_caller_waits_longer_than_the_worker_wait():
    pool = ScriptPool(1, spare=0, wait_s=0.2)
    quota = QuotaSettings(script_timeout_ms=5000)
    try:
        assert pool.wait_ready()
        busy = build_job(brand_id=900_301, quota=quota, code="while (true) {}")
        thread, _ = _in_background(lambda: pool.execute(busy, timeout_ms=5000))
        _wait_until(lambda: pool.ready_count() == 0)
        with pytest.raises(PoolUnavailable, match="busy"):
            pool.execute(build_job(brand_id=900_302, quota=quota, code="1"), timeout_ms=1000)
        assert thread.is_alive()  # refused well before the busy worker came free
        thread.join()
    finally:
        pool.close()


@pytest.mark.parametrize("spare", [1, 0])
def test_a_warm_spare_takes_the_place_of_a_killed_worker(spare):
    """Right after a worker is killed at the time limit, another brand's run gets a worker
    without waiting at all for the replacement's start-up (with no spare, it would have to)."""
    pool = ScriptPool(1, spare=spare, wait_s=0)
    quota = QuotaSettings(script_timeout_ms=200)
    try:
        assert pool.wait_ready()
        loop = build_job(brand_id=900_303, quota=quota, code="while (true) {}")
        looping = pool.execute(loop, timeout_ms=200)
        assert looping["error"]["name"] == "TimeoutError"
        trivial = build_job(brand_id=900_304, quota=quota, code="'next'")
        if spare:
            assert value(pool.execute(trivial, timeout_ms=1000)) == "next"
        else:
            with pytest.raises(PoolUnavailable):
                pool.execute(trivial, timeout_ms=1000)
    finally:
        pool.close()


def test_a_brand_that_keeps_hitting_the_time_limit_is_paused(script_pool, brand_factory, settings):
    settings.SCRIPT_OVERRUN_BUDGET_MS = 1500  # two 200 ms timeouts (each charged 700 ms) ... then paused
    brand = brand_factory(script_timeout_ms=200)
    other = brand_factory(script_timeout_ms=200)
    first = run_script_execution(brand, "while (true) {}", pool=script_pool)
    assert first.outcome == "timeout" and not any("too often" in w for w in first.result["warnings"])
    second = run_script_execution(brand, "while (true) {}", pool=script_pool)
    third = run_script_execution(brand, "while (true) {}", pool=script_pool)
    assert second.outcome == "timeout"
    assert third.outcome == "timeout"
    assert any("hit the time limit too often" in w for w in third.result["warnings"])
    paused = run_script_execution(brand, "1", pool=script_pool)
    assert paused.outcome == "budget" and paused.http_status == 429
    assert paused.result["error"]["name"] == "BudgetError"
    assert "hit the time limit too often" in paused.result["error"]["message"]
    assert 1 <= paused.retry_after_s <= 60
    # Another brand has its own budget.
    assert value(run_script_execution(other, "'fine'", pool=script_pool).result) == "fine"
    counts = brands_script_stats([brand.pk])[brand.pk]
    assert (counts.runs, counts.count("timeout"), counts.count("budget")) == (4, 3, 1)
