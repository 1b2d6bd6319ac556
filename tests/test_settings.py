"""Settings from the environment: the deploy check, the secret key, the security switches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# The test runner's own switches (browser tests turn Django's async-safety check off) are not
# part of a deployment's environment.
RUNNER_ONLY_VARIABLES = {"DJANGO_ALLOW_ASYNC_UNSAFE", "DEBUG"}


def deployment_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in RUNNER_ONLY_VARIABLES}
    env.update(DJANGO_SETTINGS_MODULE="cacheadmin.settings", **values)
    return env


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )


def test_check_deploy_has_no_errors_with_debug_off():
    env = deployment_env(SECRET_KEY="x" * 64 + "-a-long-random-production-secret",
                         ALLOWED_HOSTS="example.com")
    result = _manage("check", "--deploy", "--fail-level", "ERROR", env=env)
    assert result.returncode == 0, result.stderr
    assert "ERRORS" not in result.stderr


def test_secret_key_required_when_debug_off(tmp_path):
    # A VAR_DIR without a generated key (make run / make serve create one in var/).
    env = deployment_env(VAR_DIR=str(tmp_path))
    env.pop("SECRET_KEY", None)
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_security_settings_switchable_from_environment():
    env = deployment_env(SECRET_KEY="y" * 64, SECURE_SSL_REDIRECT="0", SECURE_HSTS_SECONDS="60")
    code = ("import django, json; django.setup(); from django.conf import settings as s; "
            "print(json.dumps([s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [False, 60, True]
