"""Through the web, as deployed: a real gunicorn (two worker processes, each with its own script
pool, four threads each) with its own database file, real sessions and CSRF. One brand floods its
console with endless loops from several clients while another brand's admin keeps running a
trivial script. Issue 10 measured the other brand waiting 12.7 s and then "Scripts are
unavailable"; now it is answered every time, and the flooding brand gets 429 with Retry-After
(its cap of one run holds across both gunicorn processes).

(A server of its own rather than the live_server fixture: with the test suite's in-memory SQLite,
the live server's threads share one database connection, and concurrent requests fail there.)"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from django.conf import settings

from brands.cache import redis_client

ROOT = Path(__file__).resolve().parents[2]
FLOOD_CLIENTS = 4
FLOOD_SECONDS = 5.0
FLOOD_TIMEOUT_MS = 500
PASSWORD = "flood-test-pw-123"

SEED = f"""
from brands.models import Brand, Membership
from django.contrib.auth import get_user_model
users = get_user_model().objects
for slug, timeout in (("flooding", {FLOOD_TIMEOUT_MS}), ("quiet", 1000)):
    brand = Brand.objects.create(slug=slug, name=slug)
    brand.quota.script_timeout_ms = timeout
    brand.quota.save()
    user = users.create_user(slug + "-admin", password="{PASSWORD}")
    Membership.objects.create(user=user, brand=brand, role="admin")
"""

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """gunicorn on a free loopback port, its own SQLite file and key prefix; stopped by PID."""
    prefix = f"{settings.CACHEADMIN_KEY_PREFIX}-flood"
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="cacheadmin.settings_test",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CACHEADMIN_KEY_PREFIX=prefix,
        ALLOWED_HOSTS="127.0.0.1",
        SCRIPT_WORKERS="2",
    )
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True,
                   timeout=300)
    subprocess.run([*manage, "shell", "-c", SEED], cwd=ROOT, env=env, check=True, capture_output=True,
                   timeout=300)
    port = _free_port()
    log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "cacheadmin.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--threads", "4", "--timeout", "120"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/login/", timeout=5).read()
                break
            except OSError:
                assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
                assert time.monotonic() < deadline, "gunicorn did not answer"
                time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        client = redis_client()
        names = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if names:
            client.delete(*names)


class Browser:
    """A logged-in HTTP client with its own cookies (session, CSRF)."""

    def __init__(self, base_url: str, username: str) -> None:
        self.base_url = base_url
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.opener.open(f"{base_url}/login/", timeout=60).read()  # the CSRF cookie
        status, _, _ = self._post("/login/", {"username": username, "password": PASSWORD}, form=True)
        assert status == 200 and any(cookie.name == "sessionid" for cookie in self.jar)

    def _csrf(self) -> str:
        return next(cookie.value for cookie in self.jar if cookie.name == "csrftoken")

    def _post(self, path: str, data: dict, *, form: bool = False):
        if form:
            body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": self._csrf()}).encode()
            kind = "application/x-www-form-urlencoded"
        else:
            body, kind = json.dumps(data).encode(), "application/json"
        request = urllib.request.Request(
            self.base_url + path, data=body, method="POST",
            headers={"Content-Type": kind, "Accept": "application/json", "X-CSRFToken": self._csrf(),
                     "Referer": self.base_url + path},
        )
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def run(self, slug: str, code: str) -> tuple[int, dict, dict]:
        status, headers, body = self._post(f"/b/{slug}/console/", {"code": code})
        try:
            return status, headers, json.loads(body)
        except ValueError:
            raise AssertionError(f"HTTP {status}, not JSON: {body[:300]!r}") from None


def test_a_brand_flooding_its_console_does_not_starve_another(server):
    flooders = [Browser(server, "flooding-admin") for _ in range(FLOOD_CLIENTS)]
    neighbour = Browser(server, "quiet-admin")
    assert neighbour.run("quiet", "'logged in'")[2]["result"] == "logged in"

    stop = threading.Event()
    flood_statuses: Counter[int] = Counter()
    retry_after: set[str] = set()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def flood(client: Browser) -> None:
        try:
            while not stop.is_set():
                status, headers, body = client.run("flooding", "while (true) {}")
                with lock:
                    flood_statuses[status] += 1
                    if status == 429:
                        retry_after.add(headers.get("Retry-After"))
                        assert body["error"]["name"] in ("BusyError", "BudgetError")
                    else:
                        assert status == 200 and body["error"]["name"] == "TimeoutError", body
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=flood, args=(client,)) for client in flooders]
    for thread in threads:
        thread.start()
    answers, slowest = [], 0.0
    try:
        deadline = time.monotonic() + FLOOD_SECONDS
        while time.monotonic() < deadline:
            started = time.monotonic()
            status, _, result = neighbour.run("quiet", "cache.increment('n')")
            slowest = max(slowest, time.monotonic() - started)
            answers.append((status, result["ok"], result["result"]))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    assert not errors, errors
    assert answers and all(status == 200 and ok for status, ok, _ in answers), answers
    assert [value for _, _, value in answers] == list(range(1, len(answers) + 1))
    # Never queued behind the flood (the old pool queued first-come-first-served for up to 60 s,
    # so a run sent early waited for most of the flood): the documented worker wait plus one
    # flooding run is 1.5 s; a loaded CI machine (the cluster run measured 2.8 s at a load average
    # of 6) gets the rest of the way to 80 % of the flood's length, which queueing would exceed.
    assert (settings.SCRIPT_WORKER_WAIT_MS + FLOOD_TIMEOUT_MS) / 1000 < FLOOD_SECONDS * 0.8
    assert slowest < FLOOD_SECONDS * 0.8, slowest
    # The flooding brand ran one script at a time across both gunicorn processes (each a
    # TimeoutError); the rest of its requests were refused with 429 and Retry-After.
    assert flood_statuses[200] >= 1 and flood_statuses[429] > flood_statuses[200]
    assert set(flood_statuses) <= {200, 429}
    assert retry_after and all(value and int(value) >= 1 for value in retry_after)
