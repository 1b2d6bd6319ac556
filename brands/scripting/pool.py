"""A small pool of long-lived script worker processes, and the wall-clock limit.

The quickjs package refuses to call into Python while its own time limit is set, and the cache
methods are Python, so the time limit is enforced from here: the parent sends a job, waits for the
answer with a deadline and, when the deadline passes, kills that worker and starts a replacement.
Other executions run on other workers and are not disturbed. Workers are forked by the pool's
zygote (brands.scripting.zygote), which set Django up once, inherited the environment
(CACHEADMIN_KEY_PREFIX included) and forks a replacement in milliseconds; they talk JSON lines
over a socket pair.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from brands.scripting.outcome import Outcome, error_info

logger = logging.getLogger(__name__)

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent

# Generous: on a busy two-core machine a worker's Python + Django start can take seconds, and
# that time is never charged to a script (nor waited for by an execution, except while the pool
# itself starts).
STARTUP_TIMEOUT_S = 60.0


class WorkerGone(Exception):
    """The worker's pipe closed: it died or was killed."""


class PoolUnavailable(Exception):
    """No worker could be started or became free in time."""


class _Zygote:
    """The pool's zygote process (brands.scripting.zygote): forks started workers on request.
    Started on the first request for a worker, and again should it die."""

    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        self._replies = None

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "brands.scripting.zygote", str(theirs.fileno())],
                stdin=subprocess.DEVNULL, pass_fds=[theirs.fileno()], cwd=PROJECT_DIR, env=self._env,
                close_fds=True,
            )
        finally:
            theirs.close()
        ours.settimeout(STARTUP_TIMEOUT_S)
        self._control, self._replies = ours, ours.makefile("rb")
        if self._replies.readline() != b"ready\n":
            raise OSError("the script zygote did not start")

    def spawn(self) -> tuple[socket.socket, int]:
        """A new worker: our end of its socket, and its pid."""
        with self._lock:
            for attempt in range(2):
                ours = None
                try:
                    if self._proc is None or self._proc.poll() is not None:
                        self._close()
                        self._start()
                    ours, theirs = socket.socketpair()
                    try:
                        socket.send_fds(self._control, [b"w"], [theirs.fileno()])
                    finally:
                        theirs.close()
                    return ours, int(self._replies.readline())
                except (OSError, ValueError):
                    if ours is not None:
                        ours.close()
                    self._close()
                    if attempt:
                        raise WorkerGone("the script zygote cannot fork workers") from None
        raise AssertionError("unreachable")

    def _close(self) -> None:
        for closable in (self._replies, self._control):
            with contextlib.suppress(OSError):
                if closable is not None:
                    closable.close()
        self._replies = self._control = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)  # it exits when its control socket closes
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def close(self) -> None:
        with self._lock:
            self._close()


class _Worker:
    """One worker forked by the zygote, spoken to over a socket pair. It is not this process's
    child, so it is signalled and watched through a pidfd (immune to pid reuse)."""

    def __init__(self, zygote: _Zygote) -> None:
        self.sock, self.pid = zygote.spawn()
        self.fd = self.sock.fileno()
        try:
            self.pidfd: int | None = os.pidfd_open(self.pid)
        except OSError:
            self.pidfd = None  # it is already gone
        self.poller = select.poll()
        self.poller.register(self.fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        self.buffer = bytearray()
        self.ready = False

    def alive(self) -> bool:
        if self.pidfd is None:
            return False
        exited = select.poll()
        exited.register(self.pidfd, select.POLLIN)
        return not exited.poll(0)

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
            try:
                chunk = os.read(self.fd, 1 << 16)
            except OSError as exc:
                raise WorkerGone() from exc
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
            self.sock.sendall(json.dumps(job, separators=(",", ":")).encode("utf-8") + b"\n")
        except (OSError, ValueError) as exc:
            raise WorkerGone() from exc

    def _wait_exit(self, timeout_s: float) -> bool:
        if self.pidfd is None:
            return True
        exited = select.poll()
        exited.register(self.pidfd, select.POLLIN)
        return bool(exited.poll(int(timeout_s * 1000)))

    def kill(self) -> None:
        if self.pidfd is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            self._wait_exit(10)
        self._close()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Ask the worker to exit (end of its job stream); kill it if it does not."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)
        if not self._wait_exit(timeout_s):
            self.kill()
        self._close()

    def _close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        if self.pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(self.pidfd)
            self.pidfd = None


class ScriptPool:
    """``size`` executions at once on ``size + spare`` long-lived workers.

    Only started workers (their "ready" line received) are handed out, so no execution ever waits
    for a worker's start-up, and the spare ones are there when a worker is killed at the time
    limit: its replacement starts in the background while the spare takes its place
    (docs/contract.md#fair-scheduling). A caller waits at most ``wait_s`` for a free worker, then
    gets PoolUnavailable; only while the pool itself is starting (no worker ready yet) does it wait
    up to STARTUP_TIMEOUT_S.
    """

    def __init__(self, size: int = 2, *, spare: int | None = None, env: dict[str, str] | None = None,
                 wait_s: float | None = None) -> None:
        from django.conf import settings

        self.size = max(1, int(size))
        self.spare = max(0, int(getattr(settings, "SCRIPT_SPARE_WORKERS", 1) if spare is None else spare))
        self.wait_s = (getattr(settings, "SCRIPT_WORKER_WAIT_MS", 1000) / 1000) if wait_s is None else wait_s
        self.pid = os.getpid()
        self._env = dict(os.environ)
        self._env["DJANGO_SETTINGS_MODULE"] = (
            os.environ.get("DJANGO_SETTINGS_MODULE") or settings.SETTINGS_MODULE
        )
        # The key prefix must be the parent's (tests use a random one per session).
        self._env["CACHEADMIN_KEY_PREFIX"] = settings.CACHEADMIN_KEY_PREFIX
        self._env["PYTHONUNBUFFERED"] = "1"
        self._env.update(env or {})
        self._zygote = _Zygote(self._env)
        self._cond = threading.Condition()
        self._workers: set[_Worker] = set()
        self._ready: collections.deque[_Worker] = collections.deque()
        self._in_flight = 0
        self._ever_ready = False
        self._start_failures = 0
        self._closed = False
        self._started_at = time.monotonic()
        for _ in range(self.size + self.spare):
            self._start_worker()

    @property
    def processes(self) -> int:
        """How many worker processes the pool keeps: ``size`` plus the spares."""
        return self.size + self.spare

    # ------------------------------------------------------------------ worker lifecycle

    def _start_worker(self) -> None:
        """Start a worker in the background; it is handed out once it is ready."""
        threading.Thread(target=self._await_ready, name="script-worker-start", daemon=True).start()

    def _await_ready(self) -> None:
        try:
            worker = _Worker(self._zygote)
        except WorkerGone:
            logger.exception("cannot start a script worker")
            self._start_failed()
            return
        with self._cond:
            self._workers.add(worker)
        try:
            worker.wait_ready(STARTUP_TIMEOUT_S)
            ok = True
        except (WorkerGone, ValueError, OSError):
            ok = False
        with self._cond:
            closed = self._closed
            if ok and not closed:
                self._ready.append(worker)
                self._ever_ready = True
                self._start_failures = 0
                self._cond.notify()
                return
            self._workers.discard(worker)
        worker.kill()
        if not closed:
            logger.warning("script worker %s failed to start", worker.pid)
            self._start_failed()

    def _start_failed(self) -> None:
        """Try again later, backing off, so a broken environment does not spin."""
        with self._cond:
            self._start_failures += 1
            failures = self._start_failures
            self._cond.notify_all()  # waiters re-check whether to give up
        if not self._closed:
            timer = threading.Timer(min(30.0, 0.5 * 2 ** min(failures, 6)), self._start_worker)
            timer.daemon = True
            timer.start()

    def _acquire(self, wait_s: float) -> _Worker:
        now = time.monotonic()
        deadline = now + wait_s
        with self._cond:
            while True:
                if self._closed:
                    raise PoolUnavailable("the script pool is shut down")
                self._prune_dead_idle()
                if self._in_flight < self.size and self._ready:
                    self._in_flight += 1
                    return self._ready.pop()  # the most recently used: warm caches
                if not self._ever_ready and self._start_failures >= 3:
                    raise PoolUnavailable("script workers fail to start")
                limit = deadline
                if not self._ever_ready:
                    # The pool is starting: start-up is not "waiting for a busy worker".
                    limit = max(deadline, self._started_at + STARTUP_TIMEOUT_S)
                remaining = limit - time.monotonic()
                if remaining <= 0:
                    raise PoolUnavailable(
                        f"all script workers are busy (waited {round(wait_s * 1000)} ms)"
                    )
                self._cond.wait(remaining)

    def _prune_dead_idle(self) -> None:
        """Replace idle workers that died (killed from outside); called with the lock held."""
        for worker in [w for w in self._ready if not w.alive()]:
            self._ready.remove(worker)
            self._workers.discard(worker)
            threading.Thread(target=self._replace, args=(worker,), daemon=True).start()

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        if not self._closed:
            self._start_worker()

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            self._in_flight -= 1
            if self._closed:
                closed = True
            else:
                closed = False
                self._ready.append(worker)
                self._cond.notify()
        if closed:
            worker.stop()

    def _discard(self, worker: _Worker) -> None:
        """Kill a worker that was handed out, free its place and start its replacement."""
        worker.kill()
        with self._cond:
            self._workers.discard(worker)
            self._in_flight -= 1
            closed = self._closed
            self._cond.notify()
        if not closed:
            self._start_worker()

    @property
    def longest_wait_s(self) -> float:
        """The longest a caller may wait for a worker right now (start-up included while the
        pool has never had a worker ready)."""
        with self._cond:
            if self._ever_ready:
                return self.wait_s
            return max(self.wait_s, self._started_at + STARTUP_TIMEOUT_S - time.monotonic())

    def worker_pids(self) -> list[int]:
        with self._cond:
            return sorted(worker.pid for worker in self._workers)

    def ready_count(self) -> int:
        with self._cond:
            return len(self._ready)

    def wait_ready(self, timeout_s: float = STARTUP_TIMEOUT_S) -> bool:
        """Wait until every worker is started and idle (benchmarks, tests)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while len(self._ready) < self.processes or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.1))
            return True

    # ------------------------------------------------------------------ executions

    def execute(self, job: dict, *, timeout_ms: int, wait_s: float | None = None) -> dict:
        """Run one job on a free worker, within ``timeout_ms`` of wall-clock time. Waits at most
        ``wait_s`` (default: the pool's) for a free worker, else raises PoolUnavailable."""
        wait_s = self.wait_s if wait_s is None else wait_s
        worker = self._acquire(wait_s)
        outcome = Outcome(int(job["ops_limit"]))
        try:
            worker.send(job)
        except WorkerGone:
            # It died while idle; nothing of the job ran. Try once more on another worker.
            self._discard(worker)
            worker = self._acquire(wait_s)
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
                    self._release(worker)
                    return message["result"]
                if kind == "failed":
                    self._release(worker)
                    return outcome.to_result(
                        ok=False,
                        error=error_info("InternalError", "The script could not be run (internal error)"),
                        duration_ms=(time.monotonic() - started) * 1000,
                    )
                if kind == "fatal":
                    # The worker ends itself after this (memory over its limit): replace it.
                    self._discard(worker)
                    return message["result"]
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
        with self._cond:
            self._closed = True
            workers = list(self._workers)
            self._workers.clear()
            self._ready.clear()
            self._cond.notify_all()
        for worker in workers:
            worker.stop()
        self._zygote.close()


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
