"""What an alert says and to whom: the e-mail to the brand's admins and the webhook's JSON body,
stored as deliveries (brands.alerts.delivery sends them and retries)."""

from __future__ import annotations

import json
from datetime import UTC

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from brands.alerts.models import AlertChannels, AlertDelivery, AlertEvent
from brands.models import Membership

EVENT_TYPE = "quota.threshold_crossed"
TEST_EVENT_TYPE = "quota.test"  # "Send a test webhook": same fields, nothing crossed


def event_type(event: AlertEvent) -> str:
    return TEST_EVENT_TYPE if event.source == AlertEvent.Source.TEST else EVENT_TYPE


def usage_url(brand) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("usage", args=[brand.slug])


def percent_used(event: AlertEvent) -> float:
    return round(100.0 * event.live_keys / event.max_keys, 1) if event.max_keys else 0.0


def webhook_payload(event: AlertEvent) -> dict:
    """The webhook's JSON body (docs/webhooks.md documents every field)."""
    brand = event.brand
    return {
        "type": event_type(event),
        "event_id": event.pk,
        "occurred_at": event.at.astimezone(UTC).isoformat(),
        "brand": {"id": brand.pk, "slug": brand.slug, "name": brand.name},
        "threshold_percent": event.percent,
        "thresholds_crossed": list(event.crossed),
        "live_keys": event.live_keys,
        "max_keys": event.max_keys,
        "percent_used": percent_used(event),
        "source": event.source,
        "usage_url": usage_url(brand),
    }


def email_subject(event: AlertEvent) -> str:
    # A header cannot hold a line break (Django refuses the message): a name with one is flattened.
    name = " ".join(event.brand.name.split())
    return f"[cacheadmin] {name} reached {event.percent} % of its key limit"


def email_body(event: AlertEvent) -> str:
    brand = event.brand
    crossed = ", ".join(f"{p} %" for p in event.crossed)
    why = ("a write was refused because the key limit is reached" if event.source == AlertEvent.Source.REFUSAL
           else "usage was recorded")
    lines = [
        f"{brand.name} ({brand.slug}) holds {event.live_keys:,} live keys of its limit of "
        f"{event.max_keys:,} ({percent_used(event):.1f} %).",
        "",
        f"Threshold{'s' if len(event.crossed) > 1 else ''} crossed: {crossed}.",
        f"Seen at {event.at:%Y-%m-%d %H:%M:%S %Z} when {why}.",
        "",
        "When the limit is reached, writes that would add a key are refused (existing keys can "
        "still be overwritten). Delete keys you no longer need or ask staff for a higher limit.",
        "",
        f"Usage page: {usage_url(brand)}",
        "",
        "You get this because you are an admin of the brand. You are told once per crossing: "
        "again only after usage drops below the threshold and rises to it again. Thresholds and "
        f"channels: {settings.SITE_URL.rstrip('/')}{reverse('brand-alerts', args=[brand.slug])}",
    ]
    return "\n".join(lines) + "\n"


def admin_addresses(brand) -> list[str]:
    """The e-mail addresses of the brand's active admins (those without one are skipped)."""
    rows = (Membership.objects.filter(brand=brand, role=Membership.Role.ADMIN, user__is_active=True)
            .exclude(user__email="").values_list("user__email", flat=True))
    return sorted(set(rows))


def deliveries_create(event: AlertEvent, *, background: bool, email: bool = True) -> list[AlertDelivery]:
    """One delivery per channel the brand has configured (the webhook only, without ``email``),
    due now; sent once the transaction commits, on a background thread (``background``) or right
    away in this thread."""
    channels = AlertChannels.objects.filter(brand=event.brand).first() or AlertChannels(brand=event.brand)
    now = event.at if event.at <= timezone.now() else timezone.now()
    deliveries = []
    if email and channels.email_admins:
        addresses = admin_addresses(event.brand)
        if addresses:
            deliveries.append(AlertDelivery(
                event=event, channel=AlertDelivery.Channel.EMAIL, target="\n".join(addresses),
                subject=email_subject(event), body=email_body(event), next_attempt_at=now, created=now,
            ))
    if channels.webhook_url:
        body = json.dumps(webhook_payload(event), separators=(",", ":"), ensure_ascii=False)
        deliveries.append(AlertDelivery(
            event=event, channel=AlertDelivery.Channel.WEBHOOK, target=channels.webhook_url,
            subject=event_type(event), body=body, next_attempt_at=now, created=now,
        ))
    if not deliveries:
        return []
    created = AlertDelivery.objects.bulk_create(deliveries)
    ids = [d.pk for d in created]

    def send() -> None:
        from brands.alerts.delivery import deliveries_send, deliveries_send_in_background

        (deliveries_send_in_background if background else deliveries_send)(ids)

    transaction.on_commit(send)
    return created
