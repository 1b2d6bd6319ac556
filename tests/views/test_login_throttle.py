"""Log-in throttling (django-axes): per username and per address, on the dashboard's log-in and
the Django admin's, a lock-out page that says how long to wait, lock-outs visible to staff in
the admin, unlocking from the command line, settings from the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client, RequestFactory, override_settings

from cacheadmin.client_ip import client_ip

ROOT = Path(__file__).resolve().parent.parent.parent


def fail(client: Client, username: str, times: int, *, url: str = "/login/", **extra) -> None:
    for attempt in range(times):
        client.post(url, {"username": username, "password": f"wrong-{attempt}"}, **extra)


def log_in(client: Client, username: str, password: str, *, url: str = "/login/", **extra):
    return client.post(url, {"username": username, "password": password}, **extra)


def test_the_limit_locks_the_username_and_the_page_says_how_long(client, user_factory, settings):
    user_factory("alice", password="pw-alice-123")
    fail(client, "alice", settings.AXES_FAILURE_LIMIT - 1)
    assert log_in(client, "alice", "pw-alice-123").status_code == 302  # one below the limit: fine
    client.post("/logout/")
    fail(client, "alice", settings.AXES_FAILURE_LIMIT)
    response = log_in(client, "alice", "pw-alice-123")
    body = response.content.decode()
    assert response.status_code == 429 and "_auth_user_id" not in client.session
    assert "Too many failed log-ins" in body and "locked for <strong>15 minutes</strong>" in body
    assert "css/app.css" in body  # the styled page, not a bare text


def test_the_username_is_locked_from_every_address(client, user_factory, settings):
    user_factory("bob", password="pw-bob-12345")
    for n in range(settings.AXES_FAILURE_LIMIT):
        fail(client, "bob", 1, REMOTE_ADDR=f"10.0.0.{n + 1}")
    assert log_in(Client(), "bob", "pw-bob-12345", REMOTE_ADDR="10.9.9.9").status_code == 429


def test_an_address_is_locked_for_every_username(client, user_factory, settings):
    user_factory("carol", password="pw-carol-123")
    for n in range(settings.AXES_FAILURE_LIMIT):
        fail(client, f"nobody{n}", 1, REMOTE_ADDR="10.1.1.1")
    assert log_in(client, "carol", "pw-carol-123", REMOTE_ADDR="10.1.1.1").status_code == 429
    assert log_in(Client(), "carol", "pw-carol-123", REMOTE_ADDR="10.1.1.2").status_code == 302


def test_the_admin_log_in_counts_and_locks_too(client, db, settings):
    get_user_model().objects.create_superuser("root", password="pw-root-123")
    fail(client, "root", settings.AXES_FAILURE_LIMIT, url="/admin/login/")
    response = log_in(client, "root", "pw-root-123", url="/admin/login/")
    assert response.status_code == 429 and "Too many failed log-ins" in response.content.decode()
    # One counter for both doors: the dashboard's log-in is locked as well.
    assert log_in(Client(), "root", "pw-root-123").status_code == 429


def test_a_successful_log_in_resets_the_count(client, user_factory, settings):
    user_factory("dave", password="pw-dave-1234")
    fail(client, "dave", settings.AXES_FAILURE_LIMIT - 1)
    assert log_in(client, "dave", "pw-dave-1234").status_code == 302
    client.post("/logout/")
    fail(client, "dave", settings.AXES_FAILURE_LIMIT - 1)
    assert log_in(client, "dave", "pw-dave-1234").status_code == 302


def test_staff_see_lock_outs_in_the_admin(client, user_factory, settings):
    user_factory("erin", password="pw-erin-1234")
    fail(Client(), "erin", settings.AXES_FAILURE_LIMIT, REMOTE_ADDR="10.2.2.2")
    staff = user_factory("ops", staff=True)  # staff, no model permissions given
    client.force_login(staff)
    index = client.get("/admin/").content.decode()
    assert "/admin/axes/accessattempt/" in index
    listing = client.get("/admin/axes/accessattempt/?locked_out=yes")
    body = listing.content.decode()
    assert listing.status_code == 200 and "erin" in body and "10.2.2.2" in body
    assert "Locked Out" in body or "locked out" in body.lower()


def test_axes_reset_username_unlocks(client, user_factory, settings):
    user_factory("fay", password="pw-fay-12345")
    fail(client, "fay", settings.AXES_FAILURE_LIMIT, REMOTE_ADDR="10.3.3.3")
    assert log_in(Client(), "fay", "pw-fay-12345", REMOTE_ADDR="10.3.3.4").status_code == 429
    call_command("axes_reset_username", "fay", stdout=StringIO())
    assert AccessAttempt.objects.filter(username="fay").count() == 0
    assert log_in(Client(), "fay", "pw-fay-12345", REMOTE_ADDR="10.3.3.4").status_code == 302


def test_client_ip_behind_trusted_proxies():
    factory = RequestFactory()
    request = factory.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    with override_settings(TRUSTED_PROXY_COUNT=0):
        assert client_ip(request) == "127.0.0.1"  # no proxy trusted: the header is ignored
    with override_settings(TRUSTED_PROXY_COUNT=1):
        assert client_ip(request) == "203.0.113.7"  # what nginx saw; 6.6.6.6 was forged
    with override_settings(TRUSTED_PROXY_COUNT=3):
        assert client_ip(request) == "127.0.0.1"  # not through the proxies: the peer address


@pytest.mark.parametrize(("env", "expected"), [
    ({}, [True, 5, 900, 0]),
    ({"AXES_FAILURE_LIMIT": "3", "AXES_COOLOFF_MINUTES": "60", "TRUSTED_PROXY_COUNT": "1"},
     [True, 3, 3600, 1]),
    ({"AXES_COOLOFF_MINUTES": "0", "AXES_ENABLED": "0"}, [False, 5, None, 0]),
])
def test_throttling_is_configured_from_the_environment(env, expected):
    code = ("import django, json; django.setup(); from django.conf import settings as s; "
            "c = s.AXES_COOLOFF_TIME; print(json.dumps([s.AXES_ENABLED, s.AXES_FAILURE_LIMIT, "
            "c.total_seconds() if c else None, s.TRUSTED_PROXY_COUNT]))")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AXES_", "TRUSTED_PROXY"))}
    base["DJANGO_SETTINGS_MODULE"] = "cacheadmin.settings_test"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, env={**base, **env})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected
