"""What the pages show of alerts: a brand's thresholds and recent alerts (usage and alerts
pages), the alerts in force across brands (staff monitor) and the delivery log (staff)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Prefetch

from brands.alerts.models import AlertDelivery, AlertEvent, AlertThreshold, DeliveryAttempt

RECENT_EVENTS = 10
DELIVERIES_PER_PAGE = 50


@dataclass(frozen=True)
class BrandAlerts:
    thresholds: list[AlertThreshold]
    events: list[AlertEvent]
    with_deliveries: bool = True

    @property
    def fired(self) -> list[AlertThreshold]:
        return [t for t in self.thresholds if t.fired_at is not None]


def brand_alerts(brand, *, events: int = RECENT_EVENTS, deliveries: bool = True, tests: bool = False,
                 ) -> BrandAlerts:
    """The brand's thresholds (with state) and its latest alerts, with their deliveries unless
    ``deliveries`` is off (the usage page, which must stay fast, links to them instead): two or
    three queries whatever the numbers. Test webhooks are listed only with ``tests``."""
    rows = AlertEvent.objects.filter(brand=brand)
    if not tests:
        rows = rows.exclude(source=AlertEvent.Source.TEST)
    if deliveries:
        by_channel = AlertDelivery.objects.order_by("channel")
        rows = rows.prefetch_related(Prefetch("deliveries", queryset=by_channel))
    return BrandAlerts(
        thresholds=list(AlertThreshold.objects.filter(brand=brand)),
        events=list(rows[:events]),
        with_deliveries=deliveries,
    )


@dataclass(frozen=True)
class MonitorAlerts:
    """For the staff monitor: every brand with a fired threshold (highest first), latest alerts."""

    in_force: list[tuple[object, int]]  # (brand, highest fired threshold)
    recent: list[AlertEvent]
    failed_deliveries: int


def monitor_alerts(*, recent: int = RECENT_EVENTS) -> MonitorAlerts:
    highest: dict[int, tuple[object, int]] = {}
    fired = AlertThreshold.objects.filter(fired_at__isnull=False).select_related("brand")
    for row in fired.order_by("-percent"):
        highest.setdefault(row.brand_id, (row.brand, row.percent))
    in_force = sorted(highest.values(), key=lambda item: (-item[1], item[0].slug))
    return MonitorAlerts(
        in_force=in_force,
        recent=list(AlertEvent.objects.exclude(source=AlertEvent.Source.TEST).select_related("brand")[:recent]),
        failed_deliveries=AlertDelivery.objects.filter(state=AlertDelivery.State.FAILED).count(),
    )


STATES = [choice.value for choice in AlertDelivery.State]
CHANNELS = [choice.value for choice in AlertDelivery.Channel]


def delivery_log(*, brand_slug: str = "", state: str = "", channel: str = "", page: str | int = 1) -> Page:
    """Deliveries, newest first, with their event, brand and every attempt; unknown filter values
    are ignored and an out-of-range page gives the last one (never an error)."""
    rows = AlertDelivery.objects.select_related("event__brand").prefetch_related(
        Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("number"))
    )
    if brand_slug:
        rows = rows.filter(event__brand__slug=brand_slug)
    if state in STATES:
        rows = rows.filter(state=state)
    if channel in CHANNELS:
        rows = rows.filter(channel=channel)
    return Paginator(rows.order_by("-created", "-id"), DELIVERIES_PER_PAGE).get_page(page)
