"""Recording usage snapshots (``manage.py record_usage``, from cron) and pruning old ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from brands.alerts import alerts_check_snapshots
from brands.cache import BrandCache
from brands.models import Brand, UsageSnapshot
from brands.usage.forecast import WINDOW, TrendSums, forecast_from_sums, window_sums
from brands.usage.levels import brands_usage


@dataclass(frozen=True)
class SnapshotTotals:
    """What one recording run stored, summed over every brand (record_usage prints it)."""

    brands: int
    live_keys: int
    stored_bytes: int
    refused_writes: int
    taken_at: datetime


def usage_snapshots_record(*, now: datetime | None = None) -> SnapshotTotals:
    """One UsageSnapshot per active brand, all stamped with the same time.

    Live keys and refused writes for every brand come from one Redis pipeline; stored bytes need
    a walk over each brand's values, so they are read brand by brand (this runs from cron, not
    in a request). Each snapshot carries the forecast as of itself (``limit_at``): the sums of
    every brand's last 7 days come from one aggregate query, the new count is added to them.
    Raises CacheUnavailable when Redis is down; nothing is recorded then.
    """
    taken_at = now or timezone.now()
    brands = list(Brand.objects.filter(is_active=True).select_related("quota"))
    usage = brands_usage(brands)
    sums = window_sums(None, now=taken_at)
    snapshots = []
    for brand in brands:
        live, limit = usage[brand.pk].live_keys, usage[brand.pk].max_keys
        trend = sums.get(brand.pk, TrendSums(origin=taken_at - WINDOW)).add(taken_at, live)
        snapshots.append(UsageSnapshot(
            brand=brand,
            taken_at=taken_at,
            live_keys=live,
            max_keys=limit,
            refused_writes=usage[brand.pk].refused_writes,
            stored_bytes=BrandCache.for_brand(brand, raise_unavailable=True).stored_bytes(),
            limit_at=forecast_from_sums(trend, max_keys=limit, live_keys=live, now=taken_at).reaches_at,
        ))
    UsageSnapshot.objects.bulk_create(snapshots, batch_size=500)
    # Quota alerts: thresholds crossed since the last check notify (sent here, not in a request).
    alerts_check_snapshots(snapshots)
    return SnapshotTotals(
        brands=len(snapshots),
        live_keys=sum(s.live_keys for s in snapshots),
        stored_bytes=sum(s.stored_bytes for s in snapshots),
        refused_writes=sum(s.refused_writes for s in snapshots),
        taken_at=taken_at,
    )


def usage_snapshots_prune(*, older_than_days: int, now: datetime | None = None) -> int:
    """Delete snapshots taken more than ``older_than_days`` days ago; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    deleted, _ = UsageSnapshot.objects.filter(taken_at__lt=cutoff).delete()
    return deleted
