"""The serve command (`make serve`) as an operator runs it: DEBUG off under gunicorn, static
files from WhiteNoise (hashed, compressed, cached forever), a styled login page, the script pool
started at worker boot, a graceful reload on SIGHUP, and a clean stop on SIGTERM, embedded Redis
included.

A real gunicorn on a free loopback port with its own VAR_DIR (own SQLite, own embedded Redis,
generated secret key); every process it starts is ended whatever happens (loadtest/server.py).
"""

from __future__ import annotations

import gzip
import re
import signal
import stat
import time
import urllib.error
import urllib.request

import pytest

from loadtest.server import ServeProcess, alive

pytestmark = pytest.mark.slow

ONE_YEAR = 365 * 24 * 3600


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with ServeProcess(tmp_path_factory.mktemp("serve-var"), SCRIPT_WORKERS="2") as server:
        yield server


def fetch(url: str, **headers: str):
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def max_age(cache_control: str) -> int:
    match = re.search(r"max-age=(\d+)", cache_control or "")
    return int(match.group(1)) if match else 0


def test_login_page_is_styled_with_hashed_static_files(served):
    status, headers, body = fetch(served.base_url + "/login/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    html = body.decode()
    assert 'name="username"' in html
    css = re.search(r'<link rel="stylesheet" href="(/static/css/app\.[0-9a-f]{12}\.css)"', html)
    htmx = re.search(r'<script src="(/static/django_htmx/htmx[^"]*\.[0-9a-f]{12}\.js)"', html)
    assert css and htmx, html[:800]

    status, headers, body = fetch(served.base_url + css.group(1), **{"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert max_age(headers["Cache-Control"]) >= ONE_YEAR and "immutable" in headers["Cache-Control"]
    assert headers.get("Content-Encoding") == "gzip"
    stylesheet = gzip.decompress(body).decode()
    # "Styled": the classes the login page uses are defined in the stylesheet it links.
    for cls in ("btn", "topbar", "container"):
        assert f'class="{cls}' in html or f" {cls}" in html, cls
        assert f".{cls}" in stylesheet, cls

    status, headers, body = fetch(served.base_url + htmx.group(1))
    assert status == 200
    assert headers["Content-Type"].split(";")[0] in {"text/javascript", "application/javascript"}
    assert max_age(headers["Cache-Control"]) >= ONE_YEAR
    assert b"htmx" in body[:2000]


def test_debug_is_off_and_the_secret_key_is_private(served):
    status, _headers, body = fetch(served.base_url + "/no-such-page/")
    assert status == 404
    assert b"Django tried these URL patterns" not in body and b"DEBUG = True" not in body
    key_file = served.var_dir / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_text().strip()) >= 50


def test_script_pool_starts_when_a_worker_boots(served):
    """No console request has been made: every web worker already has its script workers."""
    deadline = time.monotonic() + 60
    while True:
        tree = served.processes()
        if tree["web"] and len(tree["script"]) == 2 * len(tree["web"]):
            break
        assert time.monotonic() < deadline, (tree, served.log_tail())
        time.sleep(0.2)
    assert len(tree["web"]) >= 2 and tree["redis"]


def test_sighup_reloads_workers_without_stopping_the_embedded_redis(served):
    before = served.processes()
    assert before["web"] and before["redis"]
    served.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 90
    while True:
        after = served.processes()
        fresh = set(after["web"]) - set(before["web"])
        old_gone = not any(alive(pid) for pid in before["web"])
        if old_gone and len(fresh) == len(before["web"]) and len(after["script"]) == 2 * len(fresh):
            break
        assert time.monotonic() < deadline, (before, after, served.log_tail())
        time.sleep(0.2)
    assert after["redis"] == before["redis"]  # the master kept it running through the reload
    status, _headers, _body = fetch(served.base_url + "/healthz")
    assert status == 200


def test_sigterm_stops_everything_embedded_redis_included(served):
    tree = served.processes()
    started = [pid for pids in tree.values() for pid in pids]
    assert tree["redis"], tree
    assert served.stop(timeout_s=60) == 0, served.log_tail()
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in started if alive(pid)] == [], served.log_tail()
    assert not served.redis_socket().exists()
    assert (served.var_dir / "redis" / "dump.rdb").exists()  # SHUTDOWN SAVE ran
    assert "Shutting down: Master" in served.log_tail()
