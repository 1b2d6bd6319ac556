"""When usage crosses a threshold: the hysteresis of docs/alerts.md, and nothing else.

A threshold is *armed* until usage is seen at or above it; it then *fires* (one notification,
whatever number of writes follow) and stays fired until usage is seen below it, which arms it
again. Usage is seen at two moments: when it is recorded (``alerts_check_usage``, from
``record_usage``) and when a write is refused by the key limit (``alerts_check_refusal``; the
refusal itself proves the brand was full, so every threshold up to 100 % is crossed).

Cost: one SELECT of the brand's thresholds per check; rows are written only when a threshold
changes state. Firing is a conditional UPDATE (``fired_at IS NULL``), so when many processes see
the same crossing at once exactly one of them notifies.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import DatabaseError, transaction
from django.utils import timezone

from brands.alerts.models import AlertEvent, AlertThreshold
from brands.alerts.notify import deliveries_create
from brands.cache import BrandCache, CacheUnavailable, Refusal

logger = logging.getLogger(__name__)


def at_or_above(live_keys: int, max_keys: int, percent: int) -> bool:
    """Usage is at or above ``percent`` % of ``max_keys``, in integers (80 % of 5 keys is 4 keys,
    never 3.9999)."""
    return max_keys > 0 and live_keys * 100 >= percent * max_keys


def _apply(brand, thresholds: list[AlertThreshold], *, live_keys: int, max_keys: int, source: str,
           now: datetime, rearm: bool, background: bool) -> AlertEvent | None:
    crossed: list[int] = []
    with transaction.atomic():
        for threshold in thresholds:
            above = at_or_above(live_keys, max_keys, threshold.percent)
            if above and threshold.fired_at is None:
                still_armed = AlertThreshold.objects.filter(pk=threshold.pk, fired_at__isnull=True)
                if still_armed.update(fired_at=now):
                    threshold.fired_at = now
                    crossed.append(threshold.percent)
            elif rearm and not above and threshold.fired_at is not None:
                AlertThreshold.objects.filter(pk=threshold.pk).update(fired_at=None)
                threshold.fired_at = None
        if not crossed:
            return None
        event = AlertEvent.objects.create(brand=brand, at=now, percent=max(crossed), crossed=sorted(crossed),
                                          live_keys=live_keys, max_keys=max_keys, source=source)
        deliveries_create(event, background=background)
    return event


def alerts_check_usage(brand, *, live_keys: int, max_keys: int, now: datetime | None = None,
                       background: bool = False, thresholds: Iterable[AlertThreshold] | None = None,
                       ) -> AlertEvent | None:
    """Usage was measured: fire the armed thresholds it reached, arm again the fired ones it is
    below. Returns the event when something fired (one event for every threshold crossed at
    once). ``thresholds``: the brand's rows when the caller loaded many brands' at once."""
    rows = list(thresholds) if thresholds is not None else list(AlertThreshold.objects.filter(brand=brand))
    if not rows or max_keys <= 0:
        return None
    changes = any(at_or_above(live_keys, max_keys, t.percent) == (t.fired_at is None) for t in rows)
    if not changes:  # the common case: nothing is written at all
        return None
    return _apply(brand, rows, live_keys=live_keys, max_keys=max_keys, source=AlertEvent.Source.SNAPSHOT,
                  now=now or timezone.now(), rearm=True, background=background)


def alerts_check_snapshots(snapshots: Iterable, *, background: bool = False) -> list[AlertEvent]:
    """``alerts_check_usage`` for freshly recorded UsageSnapshot rows (their brand loaded), with
    every brand's thresholds read in one query."""
    snapshots = list(snapshots)
    by_brand: dict[int, list[AlertThreshold]] = {}
    for row in AlertThreshold.objects.filter(brand_id__in=[s.brand_id for s in snapshots]):
        by_brand.setdefault(row.brand_id, []).append(row)
    events = []
    for snapshot in snapshots:
        event = alerts_check_usage(snapshot.brand, live_keys=snapshot.live_keys, max_keys=snapshot.max_keys,
                                   now=snapshot.taken_at, background=background,
                                   thresholds=by_brand.get(snapshot.brand_id, []))
        if event is not None:
            events.append(event)
    return events


def alerts_check_refusal(brand, *, now: datetime | None = None, background: bool = True) -> AlertEvent | None:
    """A write of ``brand`` was refused by its key limit: the brand was full, so every armed
    threshold fires. Nothing is armed again here (a refusal says nothing about usage below).
    Costs one SELECT when everything already fired (a full brand refusing write after write);
    the live count is read from Redis only when something is about to fire."""
    armed = list(AlertThreshold.objects.filter(brand=brand, fired_at__isnull=True))
    if not armed:
        return None
    max_keys = brand.quota.max_keys
    try:
        live_keys = BrandCache.for_brand(brand, raise_unavailable=True).live_count()
    except CacheUnavailable:
        live_keys = max_keys
    # The refusal proves the brand held max_keys keys at that moment; keys may have expired since.
    live_keys = max(live_keys, max_keys)
    return _apply(brand, armed, live_keys=live_keys, max_keys=max_keys, source=AlertEvent.Source.REFUSAL,
                  now=now or timezone.now(), rearm=False, background=background)


KEY_LIMIT_WARNING = "key limit of "  # brands.cache's warning for a write refused by the key limit


def refused_by_key_limit(warnings: Iterable[str]) -> bool:
    """Whether a cache call's (or a script run's) warnings include a key-limit refusal."""
    return any(isinstance(w, str) and w.startswith(KEY_LIMIT_WARNING) for w in warnings)


def alerts_after_writes(brand, *, warnings: Iterable[str] = (), refusals: Iterable = (),
                        background: bool = True) -> AlertEvent | None:
    """The callers' one line after writes that may have been refused (script runs, key pages,
    imports, copies, restores): when one was refused by the key limit (a cache warning, or
    ``Refusal.KEY_LIMIT`` among ``refusals``), check the brand's thresholds; otherwise nothing,
    not even a query. A failing check is logged, never turned into an error page: the write's
    own answer matters more than the alert."""
    if not (refused_by_key_limit(warnings) or Refusal.KEY_LIMIT in set(refusals)):
        return None
    try:
        return alerts_check_refusal(brand, background=background)
    except DatabaseError:
        logger.exception("quota alert check failed for brand %s", brand.pk)
        return None
