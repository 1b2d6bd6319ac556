from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction

from brands.cache import BrandCache
from brands.management.commands.seed_demo import SAMPLE_KEYS
from brands.models import Brand, Membership, QuotaSettings

ROOT = Path(__file__).resolve().parent.parent


def test_brand_gets_default_quota_from_settings(brand):
    quota = brand.quota
    for field, value in settings.CACHEADMIN_QUOTA_DEFAULTS.items():
        assert getattr(quota, field) == value
    assert settings.CACHEADMIN_QUOTA_DEFAULTS == {
        "max_keys": 50_000,
        "max_value_bytes": 512,
        "default_ttl": 3600,
        "max_ttl": 3600,
        "max_ops_per_execution": 20,
        "script_timeout_ms": 1000,
        "script_memory_mb": 32,
    }


def test_default_ttl_above_max_ttl_is_rejected(brand):
    brand.quota.default_ttl = 7200
    with pytest.raises(ValidationError) as excinfo:
        brand.quota.full_clean()
    assert "default_ttl" in excinfo.value.message_dict


def test_database_constraint_backs_up_ttl_validation(brand):
    with pytest.raises(IntegrityError), transaction.atomic():
        QuotaSettings.objects.filter(pk=brand.quota.pk).update(default_ttl=99999)


@pytest.mark.parametrize(
    "field",
    ["max_keys", "max_value_bytes", "default_ttl", "max_ttl", "max_ops_per_execution",
     "script_timeout_ms", "script_memory_mb"],
)
def test_non_positive_limits_are_rejected(brand, field):
    setattr(brand.quota, field, 0)
    with pytest.raises(ValidationError) as excinfo:
        brand.quota.full_clean()
    assert field in excinfo.value.message_dict


def test_membership_is_unique_per_user_and_brand(brand, user_factory):
    user = user_factory()
    Membership.objects.create(user=user, brand=brand, role="admin")
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=user, brand=brand, role="viewer")


def test_admin_shows_clear_error_for_bad_quota(client, brand):
    admin = get_user_model().objects.create_superuser("root", password="pw-root-123")
    client.force_login(admin)
    url = f"/admin/brands/brand/{brand.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    form = {
        "slug": brand.slug, "name": brand.name, "is_active": "on",
        "quota-TOTAL_FORMS": "1", "quota-INITIAL_FORMS": "1", "quota-MIN_NUM_FORMS": "0",
        "quota-MAX_NUM_FORMS": "1", "quota-0-id": str(brand.quota.pk), "quota-0-brand": str(brand.pk),
        "quota-0-max_keys": "0", "quota-0-max_value_bytes": "512", "quota-0-default_ttl": "7200",
        "quota-0-max_ttl": "3600", "quota-0-max_ops_per_execution": "20",
        "quota-0-script_timeout_ms": "1000", "quota-0-script_memory_mb": "32",
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000",
    }
    response = client.post(url, form)
    assert response.status_code == 200  # the form comes back with errors, nothing saved
    body = response.content.decode()
    assert "Ensure this value is greater than or equal to 1." in body
    assert "cannot exceed the maximum TTL" in body
    brand.quota.refresh_from_db()
    assert brand.quota.max_keys == 50_000 and brand.quota.default_ttl == 3600


def test_admin_lists_brands_with_quota_columns(client, brand_factory):
    brand_factory("alpha", max_keys=123)
    admin = get_user_model().objects.create_superuser("root", password="pw-root-123")
    client.force_login(admin)
    response = client.get("/admin/brands/brand/?q=alpha")
    assert response.status_code == 200
    assert b"alpha" in response.content and b"123" in response.content


def test_healthz_ok(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "ok"}


def test_healthz_names_redis_when_unreachable(client, db, dead_redis):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"database": "ok", "redis": "unavailable"}
    assert b"Traceback" not in response.content


@pytest.mark.parametrize("url", ["/"])
def test_dashboard_requires_login(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_login_page_renders_styled_form(client, db):
    response = client.get("/login/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="username"' in body and "css/app.css" in body and "csrfmiddlewaretoken" in body


def test_login_and_logout(client, user_factory):
    user_factory("alice", password="pw-alice-123")
    response = client.post("/login/", {"username": "alice", "password": "pw-alice-123"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/logout/")
    assert client.get("/").status_code == 302


def test_seed_demo_is_idempotent(db, capsys, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-123")
    call_command("seed_demo")
    first = capsys.readouterr().out
    assert "demo-pass-123" in first
    call_command("seed_demo")
    second = capsys.readouterr().out
    assert "demo-pass-123" not in second
    assert Brand.objects.filter(slug="demo").count() == 1
    user = get_user_model().objects.get(username="demo")
    assert user.check_password("demo-pass-123")
    assert Membership.objects.get(user=user).role == "admin"
    cache = BrandCache.for_slug("demo")
    assert cache.live_count() == len(SAMPLE_KEYS)
    assert cache.get("page:home:views") == 42
    cache.set("page:home:views", 43)
    call_command("seed_demo")  # a rerun changes nothing already there
    assert cache.get("page:home:views") == 43 and cache.live_count() == len(SAMPLE_KEYS)
    assert "0 written" in capsys.readouterr().out


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
