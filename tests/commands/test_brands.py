"""``manage.py brands``: create / list / usage / delete, and one-line errors with a non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from brands.cache import BrandCache, redis_client
from brands.models import AuditEntry, Brand, Membership

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> str:
    out = StringIO()
    call_command("brands", *args, stdout=out)
    return out.getvalue()


def test_create_applies_limits(db):
    output = run("create", "acme", "--name", "Acme Corp", "--max-keys", "10", "--max-value-bytes", "64",
                 "--max-ttl", "600", "--default-ttl", "300", "--max-ops", "5")
    brand = Brand.objects.get(slug="acme")
    assert brand.name == "Acme Corp"
    quota = brand.quota
    assert (quota.max_keys, quota.max_value_bytes, quota.default_ttl, quota.max_ttl,
            quota.max_ops_per_execution) == (10, 64, 300, 600, 5)
    assert "Created brand 'acme'" in output


def test_create_without_limits_uses_defaults(db, settings):
    run("create", "plain")
    quota = Brand.objects.get(slug="plain").quota
    assert quota.max_keys == settings.CACHEADMIN_QUOTA_DEFAULTS["max_keys"]
    assert Brand.objects.get(slug="plain").name == "Plain"


def test_max_ttl_below_default_ttl_is_refused_not_silently_changed(db):
    with pytest.raises(CommandError, match=r"default TTL \(3600 s\) cannot exceed the maximum TTL \(100 s\)"):
        run("create", "short", "--max-ttl", "100")
    assert not Brand.objects.filter(slug="short").exists()  # no half-created brand


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5"])
def test_bad_numbers_are_refused(db, value):
    with pytest.raises(CommandError, match="--max-keys must be a whole number of at least 1"):
        run("create", "bad", "--max-keys", value)
    assert not Brand.objects.filter(slug="bad").exists()


def test_duplicate_and_invalid_slugs_are_refused(brand_factory):
    brand_factory("taken")
    with pytest.raises(CommandError, match="Brand 'taken' already exists"):
        run("create", "taken")
    with pytest.raises(CommandError, match="slug"):
        run("create", "not a slug")
    assert Brand.objects.count() == 1


def test_list_shows_every_brand_with_limits(brand_factory):
    brand_factory("alpha", max_keys=123)
    brand_factory("beta")
    lines = run("list").splitlines()
    assert lines[0].split()[:3] == ["slug", "name", "active"]
    alpha = next(line for line in lines if line.startswith("alpha"))
    assert "123" in alpha.split()
    assert any(line.startswith("beta") for line in lines)


def test_usage_reports_live_keys_refusals_and_bytes(brand_factory):
    brand = brand_factory("used", max_keys=4, max_value_bytes=10)
    brand_factory("idle")
    cache = BrandCache.for_brand(brand)
    assert cache.set("a", "xyz")  # "xyz" with quotes: 5 bytes
    assert cache.set("b", 12345)  # 5 bytes
    assert cache.set("c", "too long for ten bytes") is False  # refused: value size
    records = {r["slug"]: r for r in json.loads(run("usage", "--json"))}
    assert records["used"] == {"slug": "used", "live_keys": 2, "max_keys": 4, "percent": 50.0, "level": "ok",
                               "refused_writes": 1, "stored_bytes": 10}
    assert records["idle"]["live_keys"] == 0
    table = run("usage")
    row = next(line for line in table.splitlines() if line.startswith("used"))
    assert row.split() == ["used", "2", "4", "50.0", "ok", "1", "10"]


def test_delete_removes_the_brand_and_its_keys(brand_factory):
    brand = brand_factory("gone")
    keep = brand_factory("kept")
    cache, other = BrandCache.for_brand(brand), BrandCache.for_brand(keep)
    for i in range(5):
        assert cache.set(f"k{i}", i)
    assert other.set("k0", "mine")
    output = run("delete", "gone")
    assert "5 cache keys" in output
    assert not Brand.objects.filter(slug="gone").exists()
    client = redis_client()
    assert client.exists(*[cache.keys.value(f"k{i}") for i in range(5)], *cache.keys.index_keys) == 0
    assert other.get("k0") == "mine"  # another brand's keys are untouched


def test_delete_unknown_brand_fails(db):
    with pytest.raises(CommandError, match="Unknown brand 'nobody'"):
        run("delete", "nobody")


# --------------------------------------------------------------- exit codes from a real process


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory):
    """A separate SQLite database for the subprocesses (the test database lives in a transaction
    they cannot see); same Redis and key prefix as this session."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="cacheadmin.settings_test",
        DATABASE_URL=f"sqlite:///{tmp_path_factory.mktemp('cli') / 'db.sqlite3'}",
    )
    result = manage("migrate", "--noinput", env=env)
    assert result.returncode == 0, result.stderr
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_exit_codes_and_single_error_lines(cli_env):
    created = manage("brands", "create", "cli-brand", "--max-keys", "7", env=cli_env)
    assert created.returncode == 0, created.stderr
    failures = {
        ("create", "cli-brand"): "already exists",
        ("create", "cli-other", "--max-keys", "abc"): "--max-keys must be a whole number",
        ("create", "cli-other", "--max-ops", "0"): "--max-ops must be a whole number",
        ("create", "bad slug!"): "slug",
        ("create", "cli-other", "--max-ttl", "100"): "cannot exceed the maximum TTL",
        ("delete", "nobody"): "Unknown brand 'nobody'",
    }
    for args, message in failures.items():
        result = manage("brands", *args, env=cli_env)
        assert result.returncode != 0, args
        assert message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
    listed = manage("brands", "list", env=cli_env)
    assert listed.returncode == 0
    assert "cli-brand" in listed.stdout and "cli-other" not in listed.stdout
    deleted = manage("brands", "delete", "cli-brand", env=cli_env)
    assert deleted.returncode == 0, deleted.stderr


# ---------------------------------------------------------------------------- members


def test_members_add_list_remove(brand_factory, user_factory):
    brand = brand_factory("team")
    ada = user_factory("ada")
    get_user_model().objects.filter(pk=ada.pk).update(email="Ada@Example.com")
    user_factory("bob")
    added = run("members", "add", "team", "ada@example.com", "--role", "admin")
    assert "Added ada to team as admin." in added
    assert "Added bob to team as viewer." in run("members", "add", "team", "bob")
    listing = run("members", "list", "team")
    lines = [line.split() for line in listing.splitlines()[2:]]
    assert [line[:3] for line in lines] == [["ada", "Ada@Example.com", "admin"], ["bob", "-", "viewer"]]
    assert "Removed bob from team." in run("members", "remove", "team", "bob")
    assert list(Membership.objects.filter(brand=brand).values_list("user__username", flat=True)) == ["ada"]
    # Audited like the dashboard's changes, with no user.
    entries = AuditEntry.objects.filter(brand=brand).order_by("id").values_list("action", "target", "user")
    assert list(entries) == [
        ("member.add", "ada", None), ("member.add", "bob", None), ("member.remove", "bob", None)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["members", "add", "nope", "ada"], "Unknown brand 'nope'."),
        (["members", "add", "team", "ghost"], "No user is called 'ghost'"),
        (["members", "add", "team", "ada", "--role", "owner"], "Unknown role 'owner'"),
        (["members", "add", "team", "ada"], "ada is already a member (admin)"),
        (["members", "remove", "team", "bob"], "bob is not a member of team."),
        (["members", "remove", "team", "ada"], "ada is the brand's only admin"),
    ],
)
def test_members_errors_are_one_line(brand_factory, user_factory, args, message):
    brand = brand_factory("team")
    Membership.objects.create(brand=brand, user=user_factory("ada"), role="admin")
    user_factory("bob")
    with pytest.raises(CommandError) as error:
        run(*args)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert Membership.objects.filter(brand=brand).count() == 1
