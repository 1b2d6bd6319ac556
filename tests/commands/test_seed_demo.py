"""``manage.py seed_demo`` (run by ``make run``): idempotent demo brand, user and keys."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management import call_command

from brands.cache import BrandCache
from brands.management.commands.seed_demo import SAMPLE_KEYS
from brands.models import Brand, Membership


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
    cache = BrandCache.for_brand(Brand.objects.get(slug="demo"))
    assert cache.live_count() == len(SAMPLE_KEYS)
    assert cache.get("page:home:views") == 42
    cache.set("page:home:views", 43)
    call_command("seed_demo")  # a rerun changes nothing already there
    assert cache.get("page:home:views") == 43 and cache.live_count() == len(SAMPLE_KEYS)
    assert "0 written" in capsys.readouterr().out
