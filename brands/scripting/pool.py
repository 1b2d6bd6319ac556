"""A small pool of long-lived script worker processes, and the wall-clock limit.

The quickjs package refuses to call into Python while its own time limit is set, and the cache
methods are Python, so the time limit is enforced from here: the parent sends a job, waits for the
answer with a deadline and, when the deadline passes, kills that worker and starts a replacement.
Other executions run on other workers and are not disturbed. Workers are plain subprocesses
talking JSON lines over pipes; they set Django up themselves (for the django-redis connection) and
inherit the environment, CACHEADMIN_KEY_PREFIX included.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import queue
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

from brands.scripting.outcome import Outcome, error_info

logger = logging.getLogger(__name__)

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent

# Generous: on a busy two-core machine a worker's Python + Django start can take seconds, and
# that time is never charged to a script.
STARTUP_TIMEOUT_S = 60.0
ACQUIRE_TIMEOUT_S = 60.0


class WorkerGone(Exception):
    """The worker's pipe closed: it died or was killed."""


class PoolUnavailable(Exception):
    """No worker could be started or became free in time."""


class _Worker:
    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "brands.scripting.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=PROJECT_DIR,
            env=env,
            close_fds=True,
        )
        self.fd = self.proc.stdout.fileno()
        self.poller = select.poll()
        self.poller.register(self.fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        self.buffer = bytearray()
        self.ready = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def read_message(self, deadline: float) -> dict | None:
        """The next message, or None when ``deadline`` (time.monotonic) passes first."""
        while True:
            newline = self.buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self.buffer[:newline])
                del self.buffer[: newline + 1]
                return json.loads(line)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not self.poller.poll(max(1, int(remaining * 1000))):
                continue  # loop re-checks the deadline
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                raise WorkerGone()
            self.buffer += chunk

    def wait_ready(self, timeout_s: float) -> None:
        message = self.read_message(time.monotonic() + timeout_s)
        if message is None or message.get("ev") != "ready":
            raise WorkerGone(f"worker {self.pid} did not start: {message!r}")
        self.ready = True

    def send(self, job: dict) -> None:
        try:
            self.proc.stdin.write(json.dumps(job, separators=(",", ":")).encode("utf-8") + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError) as exc:
            raise WorkerGone() from exc

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=10)
        self._close_pipes()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Ask the worker to exit (stdin EOF); kill it if it does not."""
        with contextlib.suppress(OSError, ValueError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError, ValueError):
                pipe.close()


class ScriptPool:
    def __init__(self, size: int = 2, *, env: dict[str, str] | None = None) -> None:
        from django.conf import settings

        self.size = max(1, int(size))
        self.pid = os.getpid()
        self._env = dict(os.environ)
        self._env["DJANGO_SETTINGS_MODULE"] = (
            os.environ.get("DJANGO_SETTINGS_MODULE") or settings.SETTINGS_MODULE
        )
        # The key prefix must be the parent's (tests use a random one per session).
        self._env["CACHEADMIN_KEY_PREFIX"] = settings.CACHEADMIN_KEY_PREFIX
        self._env["PYTHONUNBUFFERED"] = "1"
        self._env.update(env or {})
        self._lock = threading.Lock()
        self._workers: set[_Worker] = set()
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._closed = False
        for _ in range(self.size):
            self._idle.put(self._spawn())

    def _spawn(self) -> _Worker:
        worker = _Worker(self._env)
        with self._lock:
            self._workers.add(worker)
        return worker

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._workers.discard(worker)
            closed = self._closed
        if not closed:
            # The replacement starts now and is waited for by whoever takes it next.
            self._idle.put(self._spawn())

    def worker_pids(self) -> list[int]:
        with self._lock:
            return sorted(worker.pid for worker in self._workers)

    def _acquire(self) -> _Worker:
        for _ in range(3):
            try:
                worker = self._idle.get(timeout=ACQUIRE_TIMEOUT_S)
            except queue.Empty:
                raise PoolUnavailable("no script worker became free in time") from None
            if worker.ready and worker.proc.poll() is None:
                return worker
            try:
                if worker.proc.poll() is not None:
                    raise WorkerGone()
                worker.wait_ready(STARTUP_TIMEOUT_S)
                return worker
            except (WorkerGone, ValueError):
                logger.warning("script worker %s failed to start; replacing it", worker.pid)
                self._discard(worker)
        raise PoolUnavailable("script workers fail to start")

    def execute(self, job: dict, *, timeout_ms: int) -> dict:
        """Run one job on a free worker, within ``timeout_ms`` of wall-clock time."""
        if self._closed:
            raise PoolUnavailable("the script pool is shut down")
        worker = self._acquire()
        outcome = Outcome(int(job["ops_limit"]))
        try:
            worker.send(job)
        except WorkerGone:
            # It died while idle; nothing of the job ran. Try once more on another worker.
            self._discard(worker)
            worker = self._acquire()
            try:
                worker.send(job)
            except WorkerGone:
                self._discard(worker)
                raise PoolUnavailable("script workers keep dying") from None
        started = time.monotonic()
        deadline = started + timeout_ms / 1000
        try:
            while True:
                message = worker.read_message(deadline)
                if message is None:
                    logger.info("script exceeded %s ms; killing worker %s", timeout_ms, worker.pid)
                    self._discard(worker)
                    return outcome.to_result(
                        ok=False,
                        error=error_info(
                            "TimeoutError", f"Script exceeded the time limit of {timeout_ms} ms"
                        ),
                        duration_ms=(time.monotonic() - started) * 1000,
                    )
                kind = message.get("ev")
                if kind == "done":
                    self._idle.put(worker)
                    return message["result"]
                if kind == "failed":
                    self._idle.put(worker)
                    return outcome.to_result(
                        ok=False,
                        error=error_info("InternalError", "The script could not be run (internal error)"),
                        duration_ms=(time.monotonic() - started) * 1000,
                    )
                outcome.apply(message)
        except (WorkerGone, ValueError, KeyError):
            logger.exception("script worker %s stopped unexpectedly", worker.pid)
            self._discard(worker)
            return outcome.to_result(
                ok=False,
                error=error_info("InternalError", "The script worker stopped unexpectedly"),
                duration_ms=(time.monotonic() - started) * 1000,
            )
        except BaseException:
            # Interrupted mid-job (KeyboardInterrupt, ...): the worker's state is unknown.
            self._discard(worker)
            raise

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._workers)
            self._workers.clear()
        for worker in workers:
            worker.stop()


_default_pool: ScriptPool | None = None
_default_lock = threading.Lock()


def get_pool() -> ScriptPool:
    """The process's pool, started on first use (and again in a forked child)."""
    global _default_pool
    with _default_lock:
        if _default_pool is None or _default_pool.pid != os.getpid():
            from django.conf import settings

            _default_pool = ScriptPool(getattr(settings, "SCRIPT_WORKERS", 2))
            atexit.register(_default_pool.close)
        return _default_pool


def shutdown_pool() -> None:
    global _default_pool
    with _default_lock:
        pool, _default_pool = _default_pool, None
    if pool is not None and pool.pid == os.getpid():
        pool.close()
