"""Locust: logged-in brand admins in a closed loop (each sends its next request as soon as the
last one answered), on the mix of issue 15 (loadtest/data.py has each request):

    key browser 20 %   GET  /b/<slug>/keys/                       (full page: tree + first 50)
    key page    30 %   GET  /b/<slug>/keys/<random key>/
    prefix search 20 % GET  /b/<slug>/keys/?prefix=<p>  HX-Request (the partial, as typed)
    console     20 %   POST /b/<slug>/console/          HX-Request (runs a 3-operation script)
    usage       10 %   GET  /b/<slug>/usage/

Configured from the environment by loadtest/run.py: LOADTEST_KEYS (keys in the brand),
LOADTEST_USERS (admin accounts), LOADTEST_MAX_REQUESTS (the run stops itself after that many),
LOADTEST_SAMPLES (a JSON-lines file: one line per request, for exact percentiles per page),
LOADTEST_WEIGHTS (overrides of the mix, e.g. "usage=0"), LOADTEST_SESSIONS (logged-in sessions
from loadtest/fill.py, so no password is hashed during the run).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from pathlib import Path
from urllib.parse import urlsplit

import gevent
from locust import FastHttpUser, constant, events, task
from requests.cookies import create_cookie

from loadtest import data

KEYS = int(os.environ.get("LOADTEST_KEYS", "50000"))
ACCOUNTS = int(os.environ.get("LOADTEST_USERS", "32"))
MAX_REQUESTS = int(os.environ.get("LOADTEST_MAX_REQUESTS", "200000"))
SAMPLES = os.environ.get("LOADTEST_SAMPLES", "")
# Logged-in sessions made by loadtest/fill.py (username -> session key); else log in by form.
_sessions_file = os.environ.get("LOADTEST_SESSIONS", "")
SESSIONS = json.loads(Path(_sessions_file).read_text()) if _sessions_file else {}
_weights = data.weights(os.environ.get("LOADTEST_WEIGHTS", ""))
PAGE_NAMES = [page for page, weight in _weights.items() if weight > 0]
PAGE_WEIGHTS = [_weights[page] for page in PAGE_NAMES]

_accounts = itertools.count()
# (name, start epoch s, response time ms, failed): pages and logins (the driver measures the
# steady state, after the last login).
_samples: list[tuple[str, float, float, bool]] = []
_runner = None
_quitting = False


@events.init.add_listener
def _init(environment, **kwargs):
    global _runner
    _runner = environment.runner


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception, start_time=None, **kwargs):
    global _quitting
    _samples.append((name, start_time or 0.0, response_time, exception is not None))
    if len(_samples) >= MAX_REQUESTS and _runner is not None and not _quitting:
        _quitting = True
        gevent.spawn(_runner.quit)  # bounded in requests as well as in time


@events.quitting.add_listener
def _dump(environment, **kwargs):
    if SAMPLES:
        with open(SAMPLES, "w") as out:
            for sample in _samples:
                out.write(json.dumps(sample) + "\n")


CSRF_FORM = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CSRF_HX = re.compile(r'"X-CSRFToken": "([^"]+)"')


class BrandAdmin(FastHttpUser):
    wait_time = constant(0)  # closed loop
    network_timeout = 60.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        self.rng = random.Random()
        account = data.username(next(_accounts) % ACCOUNTS + 1)
        if SESSIONS:
            host = urlsplit(self.host).hostname
            self.client.cookiejar.set_cookie(create_cookie("sessionid", SESSIONS[account], domain=host))
        else:
            self._log_in(account)
        # Django rotates the CSRF token at login: take the current one from a page, as htmx does.
        page = self.client.get(f"/b/{data.SLUG}/keys/", name="(login)")
        if data.page_ok("key browser", page.status_code, page.text or ""):
            raise RuntimeError(f"{account} is not logged in")
        self.csrf = CSRF_HX.search(page.text).group(1)

    def _log_in(self, account: str) -> None:
        page = self.client.get("/login/", name="(login)")
        form = {"username": account, "password": data.PASSWORD,
                "csrfmiddlewaretoken": CSRF_FORM.search(page.text).group(1)}
        with self.client.post("/login/", name="(login)", data=form, allow_redirects=False,
                              catch_response=True) as response:
            if response.status_code != 302:
                response.failure(f"login as {account}: HTTP {response.status_code}")
                raise RuntimeError(f"login as {account} failed")

    def _send(self, page: str) -> None:
        method, path, headers, form = data.page_request(page, self.rng, keys=KEYS)
        if method == "POST":
            headers = {**headers, "X-CSRFToken": self.csrf}
        with self.client.request(method, path, name=page, headers=headers, data=form,
                                 catch_response=True) as response:
            problem = data.page_ok(page, response.status_code, response.text or "")
            if problem:
                response.failure(problem)

    @task
    def one_request(self) -> None:
        self._send(self.rng.choices(PAGE_NAMES, PAGE_WEIGHTS)[0])
