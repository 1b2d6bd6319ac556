"""Webhooks against a real HTTP receiver on 127.0.0.1: the signature checked with the recipe of
docs/webhooks.md (the snippet itself, read from the file), retries with exponential backoff, the
delivery log, the first attempt off the request thread, and the URLs refused (SSRF)."""

from __future__ import annotations

import json
import re
import socket
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from brands.alerts import (
    AlertChannels,
    AlertDelivery,
    AlertEvent,
    AlertThreshold,
    alerts_after_writes,
    alerts_check_usage,
    deliveries_send,
    retry_delay,
    wait_for_background,
)
from brands.alerts.webhooks import WebhookURLError, check_url_syntax, resolve
from brands.cache import BrandCache

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def documented_verifier():
    """``verify_webhook`` exactly as docs/webhooks.md prints it."""
    text = DOCS.read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(DOCS), "exec"), namespace)  # noqa: S102 (our own documentation)
    return namespace["verify_webhook"]


@pytest.fixture
def hooked(brand, receiver):
    return AlertChannels.objects.create(brand=brand, email_admins=False, webhook_url=receiver.url)


def test_the_webhook_is_signed_as_documented(brand, hooked, receiver):
    event = alerts_check_usage(brand, live_keys=96, max_keys=100)
    [attempt] = deliveries_send()
    assert attempt.ok and attempt.status_code == 200 and attempt.number == 1
    [request] = receiver.requests
    assert request["path"] == "/hooks/cacheadmin?x=1"
    verify_webhook = documented_verifier()
    assert verify_webhook(hooked.webhook_secret, request["headers"], request["body"])
    # Anything changed breaks it: the body, the timestamp, the secret.
    assert not verify_webhook(hooked.webhook_secret, request["headers"], request["body"] + b" ")
    sent_at = int(request["headers"]["X-Cacheadmin-Timestamp"])
    stale = {**request["headers"], "X-Cacheadmin-Timestamp": str(sent_at - 1)}
    assert not verify_webhook(hooked.webhook_secret, stale, request["body"])
    assert not verify_webhook("another-secret", request["headers"], request["body"])
    payload = json.loads(request["body"])
    assert payload == {
        "type": "quota.threshold_crossed", "event_id": event.pk, "occurred_at": payload["occurred_at"],
        "brand": {"id": brand.pk, "slug": brand.slug, "name": brand.name},
        "threshold_percent": 95, "thresholds_crossed": [80, 95], "live_keys": 96, "max_keys": 100,
        "percent_used": 96.0, "source": "snapshot", "usage_url": payload["usage_url"],
    }
    assert request["headers"]["X-Cacheadmin-Event"] == "quota.threshold_crossed"
    assert request["headers"]["X-Cacheadmin-Delivery"] == str(AlertDelivery.objects.get().pk)
    assert request["headers"]["Content-Type"] == "application/json"


def test_a_replayed_request_is_refused_by_the_documented_check(brand, hooked, receiver, monkeypatch):
    alerts_check_usage(brand, live_keys=100, max_keys=100)
    deliveries_send()
    [request] = receiver.requests
    verify_webhook = documented_verifier()
    later = time.time() + 301
    monkeypatch.setattr(time, "time", lambda: later)
    assert not verify_webhook(hooked.webhook_secret, request["headers"], request["body"])


def test_failed_attempts_are_retried_with_exponential_backoff(brand, hooked, receiver, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    receiver.statuses = [500, 503]  # then 200
    alerts_check_usage(brand, live_keys=80, max_keys=100)
    delivery = AlertDelivery.objects.get()
    start = timezone.now()

    [first] = deliveries_send(now=start)
    assert (first.number, first.status_code, first.error) == (1, 500, "HTTP 500")
    assert first.next_retry_at == start + timedelta(seconds=30)
    assert deliveries_send(now=start + timedelta(seconds=29)) == []  # not due yet

    [second] = deliveries_send(now=start + timedelta(seconds=30))
    assert (second.number, second.status_code) == (2, 503)
    assert second.next_retry_at - second.at == timedelta(seconds=60)  # doubled
    assert deliveries_send(now=second.at + timedelta(seconds=59)) == []

    [third] = deliveries_send(now=second.at + timedelta(seconds=60))
    assert third.ok and third.number == 3 and third.next_retry_at is None
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == ("delivered", 3, None)
    assert len(receiver.requests) == 3
    # Each retry is signed anew, with the same event id.
    verify_webhook = documented_verifier()
    assert all(verify_webhook(hooked.webhook_secret, r["headers"], r["body"]) for r in receiver.requests)
    assert len({json.loads(r["body"])["event_id"] for r in receiver.requests}) == 1
    assert deliveries_send(now=start + timedelta(days=1)) == []  # delivered: never again


def test_attempts_are_bounded(brand, hooked, receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.statuses = [500] * 10
    alerts_check_usage(brand, live_keys=80, max_keys=100)
    now = timezone.now()
    for _ in range(6):
        deliveries_send(now=now)
        now += timedelta(hours=1)
    delivery = AlertDelivery.objects.get()
    assert delivery.state == "failed" and delivery.attempts == 3 and len(receiver.requests) == 3
    assert [a.next_retry_at is None for a in delivery.attempt_log.all()] == [False, False, True]


def test_retry_delays_double():
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]


def test_an_unreachable_receiver_is_an_error_in_the_log(brand, receiver):
    url = receiver.url
    receiver.server.shutdown()
    receiver.server.server_close()
    AlertChannels.objects.create(brand=brand, email_admins=False, webhook_url=url)
    alerts_check_usage(brand, live_keys=80, max_keys=100)
    [attempt] = deliveries_send()
    assert attempt.status_code is None and "ConnectionRefused" in attempt.error and attempt.next_retry_at


@pytest.mark.django_db(transaction=True)
def test_a_refusal_in_a_request_sends_the_first_attempt_off_the_request_thread(brand_factory, receiver):
    full = brand_factory("full-bg", max_keys=1)
    AlertChannels.objects.create(brand=full, email_admins=False, webhook_url=receiver.url)
    cache = BrandCache.for_brand(full)
    assert cache.set("a", 1) and cache.set("b", 2) is False
    event = alerts_after_writes(full, warnings=cache.warnings)  # background, as in a view
    wait_for_background()
    assert len(receiver.requests) == 1 and json.loads(receiver.requests[0]["body"])["event_id"] == event.pk
    assert AlertDelivery.objects.get().state == "delivered"
    AlertEvent.objects.all().delete()


def test_deliver_alerts_command_sends_what_is_due(brand, hooked, receiver):
    receiver.statuses = [500]
    alerts_check_usage(brand, live_keys=80, max_keys=100)
    out = StringIO()
    call_command("deliver_alerts", stdout=out)
    assert out.getvalue().strip() == "1 attempt: 0 delivered, 1 did not succeed; 1 pending."
    AlertDelivery.objects.update(next_attempt_at=timezone.now())
    out = StringIO()
    call_command("deliver_alerts", stdout=out)
    assert out.getvalue().strip() == "1 attempt: 1 delivered, 0 did not succeed; 0 pending."


def test_two_runners_never_send_one_attempt_twice(brand, hooked, receiver):
    alerts_check_usage(brand, live_keys=80, max_keys=100)
    now = timezone.now()
    assert len(deliveries_send(now=now)) == 1
    AlertDelivery.objects.update(state="pending", next_attempt_at=now)  # as if due again
    from brands.alerts.delivery import _claim
    delivery_id = AlertDelivery.objects.get().pk
    assert _claim(delivery_id, now) is not None
    assert _claim(delivery_id, now) is None  # the claim moved it ahead


# ------------------------------------------------------------------------ SSRF


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://example.com/x", "Only http:// and https://"),
    ("file:///etc/passwd", "Only http:// and https://"),
    ("gopher://127.0.0.1:6379/_FLUSHALL", "Only http:// and https://"),
    ("http:///no-host", "no host name"),
    ("https://user:pw@example.com/", "user name or password"),
    ("http://127.0.0.1:6379/", "loopback, private or link-local"),
    ("http://localhost/", "loopback, private or link-local"),
    ("http://[::1]/", "loopback, private or link-local"),
    ("http://169.254.169.254/latest/meta-data/", "loopback, private or link-local"),
    ("http://10.0.0.5/", "loopback, private or link-local"),
    ("http://192.168.1.1/", "loopback, private or link-local"),
    ("http://[::ffff:127.0.0.1]/", "loopback, private or link-local"),
    ("http://example.com:99999/", "Not a valid URL"),
    ("http://0.0.0.0:8000/", "loopback, private or link-local"),
    ("http://2130706433/", "resolves to 127.0.0.1"),  # 127.0.0.1 written as one number
    ("http://0x7f.1/", "resolves to 127.0.0.1"),
])
def test_urls_that_are_refused(url, message, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(WebhookURLError, match=re.escape(message)):
        resolve(url)


def fake_dns(monkeypatch, answers: dict[str, list[str]]):
    """Names resolving to chosen addresses (the real resolver for anything else)."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                    for a in answers[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_name_resolving_to_loopback_is_refused_at_send_time(brand, receiver, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    fake_dns(monkeypatch, {"hooks.example.com": ["127.0.0.1"]})
    url = receiver.url.replace("127.0.0.1", "hooks.example.com")  # a name: caught when resolved
    check_url_syntax(url)  # the form cannot know
    AlertChannels.objects.create(brand=brand, email_admins=False, webhook_url=url)
    alerts_check_usage(brand, live_keys=80, max_keys=100)
    [attempt] = deliveries_send()
    assert "resolves to 127.0.0.1" in attempt.error and receiver.requests == []


def test_a_name_with_one_internal_address_among_public_ones_is_refused(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    fake_dns(monkeypatch, {"mixed.example.com": ["93.184.216.34", "169.254.169.254"]})
    with pytest.raises(WebhookURLError, match="resolves to 169.254.169.254"):
        resolve("https://mixed.example.com/hook")
    fake_dns(monkeypatch, {"public.example.com": ["93.184.216.34"]})
    target = resolve("https://public.example.com/hook?a=1")
    assert (target.address, target.port, target.path) == ("93.184.216.34", 443, "/hook?a=1")


def test_the_connection_goes_to_the_checked_address(brand, receiver, monkeypatch):
    """A name is resolved once; the request goes to that address with the name as Host."""
    fake_dns(monkeypatch, {"hooks.example.com": ["127.0.0.1"]})
    AlertChannels.objects.create(brand=brand, email_admins=False,
                                 webhook_url=receiver.url.replace("127.0.0.1", "hooks.example.com"))
    alerts_check_usage(brand, live_keys=80, max_keys=100)
    [attempt] = deliveries_send()
    assert attempt.ok
    assert receiver.requests[0]["headers"]["Host"].startswith("hooks.example.com:")


def test_loopback_is_allowed_only_by_the_setting(receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    check_url_syntax(receiver.url)
    assert resolve(receiver.url).address == "127.0.0.1"


# ------------------------------------------------------------------------ "Send a test webhook"


def test_a_test_webhook_reaches_the_receiver_signed(admin_client, brand, receiver):
    from django.core import mail

    from brands.models import AuditEntry
    from tests.support.htmx import HX

    hooked = AlertChannels.objects.create(brand=brand, webhook_url=receiver.url)  # e-mail on too
    assert "Send a test webhook" in admin_client.get(f"/b/{brand.slug}/alerts/").content.decode()
    response = admin_client.post(f"/b/{brand.slug}/alerts/test/", **HX)
    assert json.loads(response["HX-Trigger"])["toast"]["message"].startswith("Test webhook sent")
    deliveries_send()  # the view's background attempt needs a committed row; here the test sends it
    [request] = receiver.requests
    assert documented_verifier()(hooked.webhook_secret, request["headers"], request["body"])
    payload = json.loads(request["body"])
    assert (payload["type"], payload["source"], payload["thresholds_crossed"]) == ("quota.test", "test", [])
    assert request["headers"]["X-Cacheadmin-Event"] == "quota.test"
    assert mail.outbox == []  # a test goes to the webhook only
    assert not AlertThreshold.objects.filter(brand=brand, fired_at__isnull=False).exists()
    audited = AuditEntry.objects.get(brand=brand, action="alerts.test")
    assert audited.detail == f"test webhook to {receiver.url}"
    assert '<span class="badge">test</span>' in admin_client.get(f"/b/{brand.slug}/alerts/").content.decode()
    assert 'No alert so far.' in admin_client.get(f"/b/{brand.slug}/usage/").content.decode()
    from brands.alerts import monitor_alerts

    assert monitor_alerts().recent == []  # nor on the staff monitor


def test_a_test_webhook_needs_a_url_and_a_writer(admin_client, client, brand, member_factory):
    from brands.models import AuditEntry, Membership

    response = admin_client.post(f"/b/{brand.slug}/alerts/test/")
    assert response.status_code == 400 and "Set a webhook URL first." in response.content.decode()
    assert AuditEntry.objects.get(brand=brand, action="alerts.test").outcome == "refused"
    assert not AlertEvent.objects.exists()
    client.force_login(member_factory(brand, Membership.Role.VIEWER))
    assert client.post(f"/b/{brand.slug}/alerts/test/").status_code == 403
