"""The worker pool itself: one start per session, replacement of dead workers, the backstop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from django.conf import settings

from brands.scripting import get_pool
from brands.scripting.pool import PROJECT_DIR
from tests.support.scripts import value


def test_the_default_pool_is_shared_and_sized_from_settings(script_pool):
    assert get_pool() is script_pool
    assert script_pool.wait_ready(30)
    assert script_pool.size == settings.SCRIPT_WORKERS
    assert script_pool.spare == settings.SCRIPT_SPARE_WORKERS
    assert len(script_pool.worker_pids()) == settings.SCRIPT_WORKERS + settings.SCRIPT_SPARE_WORKERS


def test_workers_are_long_lived(run, script_pool):
    pids = script_pool.worker_pids()
    for i in range(10):
        assert value(run(f"{i} * 2")) == i * 2
    assert script_pool.worker_pids() == pids


def test_workers_inherit_the_key_prefix(run, brand):
    from brands.cache import redis_client

    run("cache.set('prefixed', 1)")
    names = [name.decode() for name in redis_client().scan_iter(match=f"*{{{brand.pk}}}:v:prefixed")]
    assert names == [f"{settings.CACHEADMIN_KEY_PREFIX}:{{{brand.pk}}}:v:prefixed"]


def test_a_worker_killed_from_outside_is_replaced(run, script_pool):
    victim = script_pool.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    time.sleep(0.2)
    # Whichever worker each run lands on, every run gets a proper result.
    results = [run("'alive'") for _ in range(script_pool.processes + 2)]
    for result in results:
        assert result["ok"] or result["error"]["name"] == "InternalError"
    assert value(run("'alive'")) == "alive"
    assert script_pool.wait_ready(30)
    assert victim not in script_pool.worker_pids()
    assert len(script_pool.worker_pids()) == script_pool.processes


def test_an_orphaned_worker_ends_itself(tmp_path):
    """If the parent dies while a script loops, the worker must not spin forever: SIGALRM's
    default action ends it shortly after the job's own time limit."""
    env = dict(os.environ, CACHEADMIN_SCRIPT_BACKSTOP_S="1",
               CACHEADMIN_KEY_PREFIX=settings.CACHEADMIN_KEY_PREFIX)
    worker = subprocess.Popen([sys.executable, "-m", "brands.scripting.worker"], cwd=PROJECT_DIR, env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert json.loads(worker.stdout.readline())["ev"] == "ready"
        job = {"brand_id": 1, "code": "while (true) {}", "ops_limit": 20, "memory_mb": 32, "timeout_ms": 100,
               "limits": {"max_keys": 10, "max_value_bytes": 512, "default_ttl": 60, "max_ttl": 60}}
        worker.stdin.write(json.dumps(job).encode() + b"\n")
        worker.stdin.flush()
        # Nobody reads or kills it (as if the parent were gone).
        assert worker.wait(timeout=60) == -signal.SIGALRM
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_workers_are_forked_from_the_pool_zygote(script_pool):
    """Replacements are forks of one process that already set Django up, not new interpreters."""
    assert script_pool.wait_ready(30)
    zygote_pid = script_pool._zygote._proc.pid
    for pid in script_pool.worker_pids():
        with open(f"/proc/{pid}/stat") as stat:
            ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        assert ppid == zygote_pid
