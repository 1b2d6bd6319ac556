"""Start and stop the serve command (``python -m cacheadmin.serve``) as a child process on a
free loopback port, with its own VAR_DIR: its own SQLite database, its own embedded Redis and its
own secret key, never the machine's shared Redis. Used by ``make loadtest`` and by the serving
tests; it ends every process it started, whatever happens."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Variables of the caller's environment that must not leak into the served instance: it gets
# its own Redis, database, secret key and security defaults (the test runner sets several).
ISOLATED_VARIABLES = {
    "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_SETTINGS_MODULE", "SECRET_KEY", "REDIS_URL",
    "REDIS_SENTINELS", "REDIS_CLUSTER", "DATABASE_URL", "CACHEADMIN_KEY_PREFIX", "PORT", "BIND",
    "ALLOWED_HOSTS",
    "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER", "GUNICORN_CMD_ARGS", "VAR_DIR",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def isolated_env(var_dir: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ISOLATED_VARIABLES}
    env["VAR_DIR"] = str(var_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def children(pid: int) -> list[int]:
    """Direct children of ``pid``, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces or parentheses.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pss_kib(pid: int) -> int | None:
    """Proportional set size: shared pages divided among the processes sharing them."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class ServeProcess:
    def __init__(self, var_dir: Path, *, port: int | None = None, log_path: Path | None = None,
                 **env_overrides: str) -> None:
        self.var_dir = Path(var_dir)
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = isolated_env(self.var_dir, **env_overrides)
        self.log_path = log_path or self.var_dir / "serve.log"
        self.proc: subprocess.Popen | None = None

    # -- life cycle --------------------------------------------------------------------------

    def start(self, timeout_s: float = 120.0) -> ServeProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 (closed with the process)
        self._log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cacheadmin.serve", "--bind", f"127.0.0.1:{self.port}"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: cleanup can reach every child
        )
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(urllib.error.URLError, OSError), \
                    urllib.request.urlopen(self.base_url + "/healthz", timeout=5) as response:
                if response.status == 200:
                    return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"serve did not answer within {timeout_s} s:\n{self.log_tail()}")
            time.sleep(0.2)

    def stop(self, timeout_s: float = 60.0) -> int | None:
        """SIGTERM to gunicorn's master (the serve command exec'd into it); its return code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout_s)
        return self.proc.poll()

    def kill_leftovers(self) -> None:
        """Whatever is still running of what this object started: the process group, then the
        embedded Redis (daemonized into its own session), identified by its pid file."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                self.proc.wait(timeout=10)
        redis_pid = self.redis_pid()
        ours = redis_pid and str(self.var_dir) in self._redis_cwd(redis_pid)
        if ours and alive(redis_pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(redis_pid, signal.SIGKILL)
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> ServeProcess:
        try:
            return self.start()
        except BaseException:
            self.stop(timeout_s=20)
            self.kill_leftovers()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop()
        finally:
            self.kill_leftovers()

    # -- inspection ----------------------------------------------------------------------------

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def redis_socket(self) -> Path:
        return self.var_dir / "redis" / "redis.sock"

    def redis_pid(self) -> int | None:
        try:
            return int((self.var_dir / "redis" / "redis.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    @staticmethod
    def _redis_cwd(pid: int) -> str:
        try:
            return os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            return ""

    def cpu_seconds(self) -> float:
        """CPU time used so far by every process serving: master, web and script workers, Redis."""
        return sum(cpu_seconds(pid) for pids in self.processes().values() for pid in pids)

    def processes(self) -> dict[str, list[int]]:
        """The process tree: gunicorn master, web workers, each web worker's script zygote and the
        script workers forked from it, embedded Redis."""
        master = self.proc.pid if self.proc else None
        workers = [pid for pid in children(master) if "gunicorn" in cmdline(pid)] if master else []
        zygotes = [pid for worker in workers for pid in children(worker)
                   if "brands.scripting.zygote" in cmdline(pid)]
        scripts = [pid for zygote in zygotes for pid in children(zygote)]
        redis_pid = self.redis_pid()
        return {
            "master": [master] if master else [],
            "web": workers,
            "zygote": zygotes,
            "script": scripts,
            "redis": [redis_pid] if redis_pid and alive(redis_pid) else [],
        }
