from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from brands.cache import BrandCache
from brands.models import UsageSnapshot


def snapshot(brand, days_ago: float) -> UsageSnapshot:
    return UsageSnapshot.objects.create(
        brand=brand, taken_at=timezone.now() - timedelta(days=days_ago), live_keys=1, max_keys=9
    )


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("record_usage", *args, stdout=out)
    return out.getvalue()


def test_records_one_snapshot_per_active_brand_with_live_figures(brand_factory):
    full = brand_factory("full", max_keys=3)
    empty = brand_factory("empty")
    inactive = brand_factory("inactive")
    inactive.is_active = False
    inactive.save()
    cache = BrandCache.for_brand(full)
    for i in range(3):
        assert cache.set(f"k{i}", "x" * 10)  # JSON text "xxxxxxxxxx" with quotes: 12 bytes
    assert cache.set("k3", 1) is False  # refused by the key limit
    BrandCache.for_brand(inactive).set("ignored", 1)

    output = run()

    assert UsageSnapshot.objects.count() == 2
    snap = UsageSnapshot.objects.get(brand=full)
    assert (snap.live_keys, snap.max_keys, snap.refused_writes, snap.stored_bytes) == (3, 3, 1, 36)
    other = UsageSnapshot.objects.get(brand=empty)
    assert (other.live_keys, other.max_keys, other.refused_writes, other.stored_bytes) == (0, 50_000, 0, 0)
    assert not UsageSnapshot.objects.filter(brand=inactive).exists()
    assert snap.taken_at == other.taken_at
    assert output.count("\n") == 1
    assert output.startswith("Recorded 2 brands: 3 live keys, 36 bytes stored, 1 refused writes;")


def test_prune_days_deletes_only_older_snapshots(brand):
    old = snapshot(brand, 11)
    recent = snapshot(brand, 9)

    output = run("--prune-days", "10")

    assert not UsageSnapshot.objects.filter(pk=old.pk).exists()
    assert UsageSnapshot.objects.filter(pk=recent.pk).exists()
    assert UsageSnapshot.objects.count() == 2  # the recent one and the new one
    assert "pruned 1 snapshot older than 10 days" in output


def test_default_prune_keeps_90_days(brand):
    now = timezone.now()
    snapshot(brand, 91)
    kept = snapshot(brand, 89)
    run()
    assert UsageSnapshot.objects.filter(taken_at__lt=now).count() == 1
    assert UsageSnapshot.objects.filter(pk=kept.pk).exists()


def test_prune_days_zero_keeps_everything(brand):
    UsageSnapshot.objects.create(brand=brand, taken_at=timezone.now() - timedelta(days=900), live_keys=1,
                                 max_keys=9)
    assert "pruning off" in run("--prune-days", "0")
    assert UsageSnapshot.objects.count() == 2


def test_negative_prune_days_is_an_error(db):
    with pytest.raises(CommandError):
        run("--prune-days", "-1")


@pytest.mark.usefixtures("dead_redis")
def test_redis_down_records_nothing_and_fails(brand):
    with pytest.raises(CommandError, match="Nothing recorded"):
        run()
    assert not UsageSnapshot.objects.exists()
