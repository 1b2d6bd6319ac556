"""Redis stopped in the middle of an import (issue 11, "Must show"): the audit entry written by the
import view says how many lines were written, and that is exactly what Redis holds afterwards.

Each test starts its own redis-server on a free loopback port with an append-only file synced on
every write (so what Redis acknowledged survives the stop), stops it mid-import, starts it again
on the same files and counts the brand's keys. The shared server on 6379 is never touched.
"""

from __future__ import annotations

import io
import random
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.test import RequestFactory
from django_htmx.middleware import HtmxDetails

from brands.cache import BrandCache, ImportInterrupted, redis_client
from brands.models import AuditEntry
from brands.views.bulk import keys_import

REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OwnRedis:
    """A redis-server of this test only (started and stopped by its PID)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._answers():
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.2) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop_when_idle(self) -> None:
        """Stop once Redis has run everything it was sent (its key count holds still), the
        moment between two batches: the import's count must then be exact."""
        client, last = redis_client(), -1
        for _ in range(200):
            size = client.dbsize()
            if size == last:
                break
            last = size
            time.sleep(0.1)
        self.stop()

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()  # SIGTERM: Redis flushes its append-only file and exits
        self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def own_redis(tmp_path, settings):
    server = OwnRedis(tmp_path)
    server.start()
    caches = {"default": {**settings.CACHES["default"], "LOCATION": server.url}}
    caches["default"]["OPTIONS"] = {**caches["default"]["OPTIONS"]}
    caches["default"]["OPTIONS"].pop("CONNECTION_POOL_KWARGS", None)  # not picklable across copies
    # The server started here is a single Redis, also when the suite runs on a cluster (CI run 3).
    caches["default"]["OPTIONS"].pop("CONNECTION_FACTORY", None)
    settings.CACHES = caches
    yield server
    server.stop(kill=True)


def _stored_keys(cache: BrandCache) -> int:
    return len(redis_client().keys(cache.keys.value_prefix + "*"))


def _lines(count: int) -> bytes:
    return "".join(f'{{"key":"k{i:05d}","value":{{"n":{i}}},"ttl":600}}\n' for i in range(count)).encode()


class StoppingUpload(InMemoryUploadedFile):
    """An uploaded file that stops Redis once the import has read past ``stop_at`` bytes: the
    moment a real outage would hit a running import."""

    def __init__(self, data: bytes, stop_at: int, stop) -> None:
        super().__init__(io.BytesIO(data), "file", "dump.jsonl", "application/x-ndjson", len(data), None)
        self.stop_at, self.stop, self.stopped = stop_at, stop, False

    def read(self, size=-1):
        if not self.stopped and self.file.tell() >= self.stop_at:
            self.stop()
            self.stopped = True
        return self.file.read(size)


def test_redis_stopped_mid_import_leaves_an_audit_entry_with_the_exact_count(
        own_redis, brand, brand_admin, settings):
    data = _lines(5000)  # about 170 KiB: the import reads it in 64 KiB chunks
    upload = StoppingUpload(data, stop_at=130 * 1024, stop=own_redis.stop_when_idle)
    request = RequestFactory().post(f"/b/{brand.slug}/keys/bulk/import/", {"policy": "overwrite"},
                                    HTTP_HX_REQUEST="true")
    request.FILES["file"] = upload
    request.user = brand_admin
    request.htmx = HtmxDetails(request)
    request._dont_enforce_csrf_checks = True

    response = keys_import(request, slug=brand.slug)

    assert upload.stopped
    body = response.content.decode()
    assert response.status_code == 200 and "The import stopped" in body
    entry = AuditEntry.objects.get(brand=brand, action="bulk.import")
    assert entry.outcome == "error"
    written = int(re.search(r"([\d,]+) lines written before it stopped", entry.detail)[1].replace(",", ""))
    assert 0 < written < 5000
    assert "without an answer" not in entry.detail  # every batch sent had been answered

    own_redis.start()  # the same append-only file: what Redis acknowledged is back
    assert _stored_keys(BrandCache.for_brand(brand)) == written


def test_redis_killed_at_a_random_moment_is_within_what_the_report_says(own_redis, brand):
    """SIGKILL at an arbitrary moment, possibly while a batch is in flight: Redis then holds at
    least the confirmed lines and at most those plus the unconfirmed batch."""
    cache = BrandCache.for_brand(brand, raise_unavailable=True)
    data = _lines(20_000)
    delay = random.uniform(0.05, 0.4)
    killer = threading.Timer(delay, lambda: own_redis.stop(kill=True))
    killer.start()
    try:
        report = cache.import_lines(io.BytesIO(data))
    except ImportInterrupted as exc:
        report = exc.report
    finally:
        killer.join()
    own_redis.start()
    stored = _stored_keys(cache)
    if report.interrupted_at is None:  # the import finished before the kill
        assert report.written == stored == 20_000
    else:
        assert report.written <= stored <= report.written + report.unconfirmed, (delay, report)
