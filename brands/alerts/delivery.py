"""Sending deliveries and retrying them with exponential backoff.

A delivery is due when it is pending and its ``next_attempt_at`` has passed. Whoever sends it
first *claims* it: one conditional UPDATE moves ``next_attempt_at`` ahead by ``CLAIM_SECONDS``,
so the request's background thread and the ``deliver_alerts`` runner never send one attempt
twice, and a process that dies mid-attempt leaves a delivery the runner takes again once the
claim ran out. After a failed attempt the next is due ``WEBHOOK_RETRY_BASE_SECONDS * 2**(n-1)``
later (30 s, 1 min, 2 min, ...); after ``WEBHOOK_MAX_ATTEMPTS`` attempts the delivery has failed.
Every attempt is one DeliveryAttempt row: the delivery log staff read.
"""

from __future__ import annotations

import smtplib
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import connections
from django.db.models import F
from django.utils import timezone

from brands.alerts import signing, webhooks
from brands.alerts.models import AlertChannels, AlertDelivery, DeliveryAttempt

CLAIM_SECONDS = 120  # longer than any attempt can take (timeouts are a few seconds)


def retry_delay(attempt: int) -> timedelta:
    """How long after failed attempt number ``attempt`` (1-based) the next one is due."""
    return timedelta(seconds=settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempt - 1))


def _claim(delivery_id: int, now: datetime) -> AlertDelivery | None:
    claimed = AlertDelivery.objects.filter(
        pk=delivery_id, state=AlertDelivery.State.PENDING, next_attempt_at__lte=now,
    ).update(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS), attempts=F("attempts") + 1)
    if not claimed:
        return None
    return AlertDelivery.objects.select_related("event__brand").get(pk=delivery_id)


def _send_webhook(delivery: AlertDelivery) -> tuple[int | None, str]:
    channels = AlertChannels.objects.filter(brand_id=delivery.event.brand_id).first()
    if channels is None:
        return None, "the brand has no webhook secret any more"
    body = delivery.body.encode("utf-8")
    headers = {
        **signing.signed_headers(channels.webhook_secret, body),
        signing.EVENT_HEADER: delivery.subject or "quota.threshold_crossed",
        signing.DELIVERY_HEADER: str(delivery.pk),
    }
    result = webhooks.post(delivery.target, body, headers)
    if result.error:
        return None, result.error
    if not 200 <= result.status_code < 300:
        return result.status_code, f"HTTP {result.status_code}"
    return result.status_code, ""


def _send_email(delivery: AlertDelivery) -> tuple[int | None, str]:
    recipients = [line for line in delivery.target.splitlines() if line.strip()]
    try:
        send_mail(delivery.subject, delivery.body, settings.DEFAULT_FROM_EMAIL, recipients,
                  fail_silently=False)
    except (smtplib.SMTPException, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    return None, ""


def attempt(delivery: AlertDelivery, *, now: datetime | None = None) -> DeliveryAttempt:
    """One attempt of a claimed delivery (``attempts`` already counts it); records it and
    schedules the next one or settles the delivery."""
    started = time.perf_counter()
    sender = _send_webhook if delivery.channel == AlertDelivery.Channel.WEBHOOK else _send_email
    status_code, error = sender(delivery)
    duration_ms = (time.perf_counter() - started) * 1000
    at = now or timezone.now()
    number = delivery.attempts
    next_retry = None
    row = AlertDelivery.objects.filter(pk=delivery.pk)
    if not error:
        row.update(state=AlertDelivery.State.DELIVERED, delivered_at=at, next_attempt_at=None)
    elif number >= settings.WEBHOOK_MAX_ATTEMPTS:
        row.update(state=AlertDelivery.State.FAILED, next_attempt_at=None)
    else:
        next_retry = at + retry_delay(number)
        row.update(next_attempt_at=next_retry)
    return DeliveryAttempt.objects.create(delivery=delivery, number=number, at=at, status_code=status_code,
                                          error=error, duration_ms=round(duration_ms, 1),
                                          next_retry_at=next_retry)


def deliveries_send(ids: Iterable[int] | None = None, *, now: datetime | None = None, limit: int = 100,
                    ) -> list[DeliveryAttempt]:
    """Attempt every due delivery (of ``ids`` only, when given); returns the attempts made."""
    now = now or timezone.now()
    due = AlertDelivery.objects.filter(state=AlertDelivery.State.PENDING, next_attempt_at__lte=now)
    if ids is not None:
        due = due.filter(pk__in=list(ids))
    attempts = []
    for delivery_id in due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit]:
        delivery = _claim(delivery_id, now)
        if delivery is not None:
            attempts.append(attempt(delivery, now=now))
    return attempts


_threads: list[threading.Thread] = []
_threads_lock = threading.Lock()


def deliveries_send_in_background(ids: list[int]) -> threading.Thread:
    """First attempts off the request's thread: the page answers at once, a slow receiver costs
    it nothing. If the process ends first, ``deliver_alerts`` takes the deliveries over."""

    def run() -> None:
        try:
            deliveries_send(ids)
        finally:
            connections.close_all()  # this thread's own connection

    thread = threading.Thread(target=run, name="alert-delivery", daemon=True)
    with _threads_lock:
        _threads[:] = [t for t in _threads if t.is_alive()]
        _threads.append(thread)
    thread.start()
    return thread


def wait_for_background(timeout: float = 30.0) -> None:
    """Wait for the background attempts started so far (tests; a command before it exits)."""
    deadline = time.monotonic() + timeout
    with _threads_lock:
        threads = list(_threads)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
