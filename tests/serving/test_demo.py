"""`make run`'s demo: a rerun refreshes it (TTLs, a week of snapshots) and says how to reset the
password; DEMO_PASSWORD on a rerun sets it."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from brands.cache import BrandCache
from brands.management.commands.seed_demo import DEMO_MAX_TTL, SAMPLE_KEYS, SNAPSHOT_DAYS
from brands.models import Brand, UsageSnapshot


def test_demo_keys_outlive_the_first_hour_and_get_fresh_ttls(db, capsys):
    call_command("seed_demo")
    cache = BrandCache.for_brand(Brand.objects.get(slug="demo"))
    ttls = {key: cache.key_info(key).ttl_seconds for key in SAMPLE_KEYS}
    long_lived = [key for key, ttl in ttls.items() if ttl > 3600]
    assert len(long_lived) >= len(SAMPLE_KEYS) - 1, ttls

    cache.set("page:home:views", 43, 5)  # edited by a user, about to expire
    cache.delete("feature:flags")  # expired meanwhile
    capsys.readouterr()
    call_command("seed_demo")
    assert "1 written, 10 refreshed" in capsys.readouterr().out
    assert cache.get("page:home:views") == 43  # the user's value survives
    assert cache.key_info("page:home:views").ttl_seconds > DEMO_MAX_TTL - 60
    assert cache.get("feature:flags") == SAMPLE_KEYS["feature:flags"]
    assert cache.live_count() == len(SAMPLE_KEYS)


def test_demo_has_a_week_of_hourly_snapshots_created_once(db, capsys):
    call_command("seed_demo")
    brand = Brand.objects.get(slug="demo")
    snapshots = list(UsageSnapshot.objects.filter(brand=brand).order_by("taken_at"))
    assert len(snapshots) == SNAPSHOT_DAYS * 24 + 1
    span = snapshots[-1].taken_at - snapshots[0].taken_at
    assert span == timedelta(days=SNAPSHOT_DAYS)
    assert snapshots[-1].taken_at > timezone.now() - timedelta(hours=1)
    values = [s.live_keys for s in snapshots]
    assert len(set(values)) > 3 and max(values) <= 2 * len(SAMPLE_KEYS)  # a curve, not a line
    assert all(s.max_keys == brand.quota.max_keys for s in snapshots)

    call_command("seed_demo")
    assert UsageSnapshot.objects.filter(brand=brand).count() == len(snapshots)
    assert "0 added" in capsys.readouterr().out.splitlines()[-1]


def test_rerun_says_how_to_reset_the_password_and_applies_demo_password(db, capsys, monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    call_command("seed_demo")
    first = capsys.readouterr().out
    assert "Log in as 'demo' with password:" in first
    call_command("seed_demo")
    hint = capsys.readouterr().out
    assert "DEMO_PASSWORD=" in hint and "manage.py changepassword demo" in hint

    monkeypatch.setenv("DEMO_PASSWORD", "a-new-demo-pass-42")
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "password set from DEMO_PASSWORD" in out and "a-new-demo-pass-42" not in out
    assert get_user_model().objects.get(username="demo").check_password("a-new-demo-pass-42")
