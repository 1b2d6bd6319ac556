"""The embedded Redis: shared by every process that uses one var/ directory, stopped by the last."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from cacheadmin import embedded_redis

ROOT = Path(__file__).resolve().parent.parent

# A process that joins the embedded server of a var dir, writes, and stays until told to go.
JOINER = """
import sys, time
from pathlib import Path
import redis
from cacheadmin import embedded_redis
url = embedded_redis.ensure_started(Path(sys.argv[1]))
redis.Redis.from_url(url).incr("joins")
print("joined", flush=True)
sys.stdin.readline()
"""


def _join(var_dir: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", JOINER, str(var_dir)], cwd=ROOT, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout.readline().strip() == "joined"
    return proc


def _leave(proc: subprocess.Popen) -> None:
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.wait(timeout=30) == 0


def test_one_server_shared_and_stopped_by_last_user(tmp_path):
    sock = embedded_redis.socket_path(tmp_path)
    first = _join(tmp_path)
    pid = (tmp_path / "redis" / "redis.pid").read_text().strip()
    second = _join(tmp_path)
    # Both joined the same server: one pid file, and the counter saw both.
    assert (tmp_path / "redis" / "redis.pid").read_text().strip() == pid
    import redis

    client = redis.Redis.from_url(embedded_redis.url_for(tmp_path))
    assert client.get("joins") == b"2"
    client.close()

    _leave(first)
    assert embedded_redis._answers_ping(sock), "server must outlive a user while another remains"
    _leave(second)
    deadline = time.monotonic() + 10
    while embedded_redis._answers_ping(sock) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not embedded_redis._answers_ping(sock), "the last user stops the server"
    assert (tmp_path / "redis" / "dump.rdb").exists(), "data is saved under var/ on shutdown"


def test_killed_user_does_not_keep_server_alive_forever(tmp_path):
    sock = embedded_redis.socket_path(tmp_path)
    crashed = _join(tmp_path)
    crashed.kill()
    crashed.wait(timeout=10)
    survivor = _join(tmp_path)  # reuses the running server
    _leave(survivor)
    deadline = time.monotonic() + 10
    while embedded_redis._answers_ping(sock) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not embedded_redis._answers_ping(sock)


def test_sigterm_still_stops_the_server(tmp_path):
    """Process managers stop apps with SIGTERM; the last user must still shut Redis down."""
    sock = embedded_redis.socket_path(tmp_path)
    user = _join(tmp_path)
    user.terminate()
    assert user.wait(timeout=30) == 128 + 15
    deadline = time.monotonic() + 10
    while embedded_redis._answers_ping(sock) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not embedded_redis._answers_ping(sock)
