"""Quota alerts' hysteresis: one notification per crossing (never one per write), armed again only
after usage was seen below the threshold, several thresholds crossed at once, and the check made
when a write is refused by the key limit (service, key page, console, import)."""

from __future__ import annotations

import io
import socket
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from brands.alerts import (
    AlertChannels,
    AlertDelivery,
    AlertEvent,
    AlertThreshold,
    alerts_after_writes,
    alerts_check_usage,
    at_or_above,
    deliveries_send,
    thresholds_update,
)
from brands.cache import BrandCache
from brands.models import AuditEntry, Membership
from brands.usage import usage_snapshots_record
from tests.support.htmx import HX


@pytest.fixture
def admins(brand, member_factory, django_user_model):
    """Two admins with addresses, one without, and a viewer (who gets no e-mail)."""
    users = [member_factory(brand, Membership.Role.ADMIN, name) for name in ("ann", "bob", "nomail")]
    viewer = member_factory(brand, Membership.Role.VIEWER, "vic")
    for user in (*users[:2], viewer):
        django_user_model.objects.filter(pk=user.pk).update(email=f"{user.username}@example.com")
    return users


def check(brand, live, max_keys=100):
    """One usage check with e-mails sent (what record_usage does), returning the event."""
    event = alerts_check_usage(brand, live_keys=live, max_keys=max_keys)
    deliveries_send()
    return event


def fired(brand) -> list[int]:
    rows = AlertThreshold.objects.filter(brand=brand, fired_at__isnull=False)
    return list(rows.values_list("percent", flat=True))


def test_a_new_brand_has_the_default_thresholds_armed(brand):
    assert [(t.percent, t.armed) for t in AlertThreshold.objects.filter(brand=brand)] == [
        (80, True), (95, True), (100, True)]


def test_threshold_arithmetic_is_exact():
    assert at_or_above(4, 5, 80) and not at_or_above(3, 5, 80)
    assert at_or_above(95, 100, 95) and not at_or_above(94, 100, 95)
    assert at_or_above(7, 7, 100) and not at_or_above(6, 7, 100)
    assert not at_or_above(5, 0, 1)


def test_one_notification_per_crossing_and_again_only_after_dropping_below(brand, admins):
    assert check(brand, 79) is None
    first = check(brand, 80)
    assert first.crossed == [80] and first.percent == 80
    assert len(mail.outbox) == 1
    # Staying above, rising inside the band, any number of checks: nothing more.
    for live in (80, 85, 90, 94, 81):
        assert check(brand, live) is None
    assert len(mail.outbox) == 1 and fired(brand) == [80]
    # Back below 80: armed again, silently.
    assert check(brand, 79) is None
    assert fired(brand) == [] and len(mail.outbox) == 1
    # ... and crossing again notifies again.
    second = check(brand, 82)
    assert second.crossed == [80] and len(mail.outbox) == 2
    assert AlertEvent.objects.filter(brand=brand).count() == 2


def test_several_thresholds_crossed_at_once_make_one_notification(brand, admins):
    event = check(brand, 100)
    assert event.crossed == [80, 95, 100] and event.percent == 100
    assert len(mail.outbox) == 1 and fired(brand) == [80, 95, 100]
    # Dropping to 90 % arms 95 and 100 again, not 80; rising to 96 % fires 95 only.
    assert check(brand, 90) is None
    assert fired(brand) == [80]
    event = check(brand, 96)
    assert event.crossed == [95] and fired(brand) == [80, 95]
    assert len(mail.outbox) == 2


def test_checks_without_a_change_write_nothing(brand, django_assert_num_queries):
    check(brand, 85)
    with django_assert_num_queries(1):  # the thresholds' SELECT, no write
        assert alerts_check_usage(brand, live_keys=90, max_keys=100) is None


def test_the_email_goes_to_the_admins_with_the_figures(brand, admins, settings):
    settings.SITE_URL = "https://cache.example.com"
    check(brand, 96)
    [message] = mail.outbox
    assert sorted(message.to) == ["ann@example.com", "bob@example.com"]  # no viewer, no empty address
    assert message.subject == f"[cacheadmin] {brand.name} reached 95 % of its key limit"
    assert "holds 96 live keys of its limit of 100 (96.0 %)" in message.body
    assert "Thresholds crossed: 80 %, 95 %." in message.body
    assert f"https://cache.example.com/b/{brand.slug}/usage/" in message.body
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    delivery = AlertDelivery.objects.get(channel="email")
    assert delivery.state == "delivered" and delivery.attempt_log.get().number == 1


def test_a_brand_name_with_a_line_break_still_mails(brand, admins):
    brand.name = "Two\nlines"
    brand.save()
    check(brand, 80)
    assert mail.outbox[0].subject == "[cacheadmin] Two lines reached 80 % of its key limit"


def test_email_off_and_no_webhook_means_no_delivery_but_the_alert_is_listed(brand, admins):
    AlertChannels.objects.create(brand=brand, email_admins=False)
    event = check(brand, 100)
    assert event is not None and not AlertDelivery.objects.exists() and mail.outbox == []


def test_changed_thresholds_keep_their_state_and_new_ones_start_armed(brand, admins):
    check(brand, 96)  # 80 and 95 fired
    assert thresholds_update(brand=brand, percents=[50, 95], by=None)
    rows = AlertThreshold.objects.filter(brand=brand)
    assert [(t.percent, t.armed) for t in rows] == [(50, True), (95, False)]
    event = check(brand, 96)
    assert event.crossed == [50]  # the new one fires; 95 does not fire again
    assert not thresholds_update(brand=brand, percents=[95, 50], by=None)  # same set: nothing changes


def test_no_thresholds_means_no_alerts(brand, admins):
    thresholds_update(brand=brand, percents=[], by=None)
    assert check(brand, 100) is None and mail.outbox == []


# ------------------------------------------------------------------------ when usage is recorded


def test_recording_usage_checks_the_thresholds(brand_factory, member_factory, django_user_model,
                                               django_capture_on_commit_callbacks):
    full = brand_factory("nearly-full", max_keys=10)
    admin = member_factory(full, Membership.Role.ADMIN)
    django_user_model.objects.filter(pk=admin.pk).update(email="admin@example.com")
    cache = BrandCache.for_brand(full)
    for i in range(8):
        assert cache.set(f"k{i}", i)
    with django_capture_on_commit_callbacks(execute=True):
        usage_snapshots_record()
    assert [e.crossed for e in AlertEvent.objects.filter(brand=full)] == [[80]]
    assert len(mail.outbox) == 1  # sent by the recording process itself
    with django_capture_on_commit_callbacks(execute=True):
        usage_snapshots_record()
    assert AlertEvent.objects.filter(brand=full).count() == 1 and len(mail.outbox) == 1


# ------------------------------------------------------------------------ when a write is refused


def fill(brand, n):
    cache = BrandCache.for_brand(brand)
    for i in range(n):
        assert cache.set(f"k{i}", i)
    return cache


def test_a_write_refused_by_the_key_limit_fires_every_armed_threshold(brand_factory, member_factory,
                                                                       django_user_model):
    full = brand_factory("full", max_keys=3)
    admin = member_factory(full, Membership.Role.ADMIN)
    django_user_model.objects.filter(pk=admin.pk).update(email="admin@example.com")
    cache = fill(full, 3)
    assert alerts_after_writes(full, warnings=cache.warnings) is None  # nothing refused: not even a query
    assert cache.set("one-too-many", 1) is False
    event = alerts_after_writes(full, warnings=cache.warnings, background=False)
    assert event.source == "refusal" and event.crossed == [80, 95, 100] and event.live_keys == 3
    deliveries_send()
    assert len(mail.outbox) == 1
    assert "a write was refused because the key limit is reached" in mail.outbox[0].body
    # Refused again and again: no more alerts, and nothing is armed again by a refusal.
    for _ in range(5):
        assert cache.set("still-too-many", 1) is False
        assert alerts_after_writes(full, warnings=cache.warnings) is None
    assert AlertEvent.objects.filter(brand=full).count() == 1


def test_an_already_fired_brand_costs_one_query_per_refusal(brand_factory, django_assert_num_queries):
    full = brand_factory("full", max_keys=1)
    cache = fill(full, 1)
    cache.set("x", 1)
    alerts_after_writes(full, warnings=cache.warnings, background=False)
    with django_assert_num_queries(1):
        assert alerts_after_writes(full, warnings=cache.warnings) is None


def test_the_key_page_refusal_checks_the_alerts(brand_factory, member_factory, client):
    full = brand_factory("full", max_keys=2)
    client.force_login(member_factory(full, Membership.Role.ADMIN))
    fill(full, 2)
    response = client.post(f"/b/{full.slug}/keys/new/", {"key": "third", "value": "1", "ttl": "60"}, **HX)
    assert "key limit of 2 keys reached" in response.content.decode()
    assert AlertEvent.objects.get(brand=full).source == "refusal"


def test_an_import_refused_by_the_key_limit_checks_the_alerts(brand_factory, member_factory, client):
    full = brand_factory("full", max_keys=2)
    client.force_login(member_factory(full, Membership.Role.ADMIN))
    upload = io.BytesIO(b'{"key": "a", "value": 1}\n{"key": "b", "value": 2}\n{"key": "c", "value": 3}\n')
    upload.name = "keys.jsonl"
    response = client.post(f"/b/{full.slug}/keys/bulk/import/", {"file": upload, "policy": "overwrite"}, **HX)
    assert response.status_code == 200
    assert AlertEvent.objects.get(brand=full).crossed == [80, 95, 100]


def test_a_script_refused_by_the_key_limit_checks_the_alerts(brand_factory, member_factory, client,
                                                             script_pool):
    full = brand_factory("full", max_keys=1)
    client.force_login(member_factory(full, Membership.Role.ADMIN))
    response = client.post(f"/b/{full.slug}/console/",
                           {"code": "cache.set('a', 1); cache.set('b', 2);"}, HTTP_ACCEPT="application/json")
    assert any(w.startswith("key limit of 1 keys reached") for w in response.json()["warnings"])
    assert AlertEvent.objects.get(brand=full).source == "refusal"


def test_refusals_for_other_reasons_do_not_check(brand_factory, django_assert_num_queries):
    small = brand_factory("small", max_value_bytes=4)
    cache = BrandCache.for_brand(small)
    assert cache.set("k", "too long") is False
    with django_assert_num_queries(0):
        assert alerts_after_writes(small, warnings=cache.warnings) is None


def test_an_email_that_cannot_be_sent_is_retried(brand, admins, settings):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    alerts_check_usage(brand, live_keys=80, max_keys=100)
    now = timezone.now()
    [failed] = deliveries_send(now=now)
    assert "ConnectionRefusedError" in failed.error and failed.next_retry_at == now + timedelta(seconds=30)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    [sent] = deliveries_send(now=failed.next_retry_at)
    assert sent.ok and sent.number == 2 and len(mail.outbox) == 1
    assert AlertDelivery.objects.get().state == "delivered"



def test_a_crossing_seen_by_two_processes_at_once_notifies_once(brand):
    """Two web workers read the thresholds (armed) at the same moment, then both see the brand
    full: the conditional UPDATE (fired_at IS NULL) lets only the first one notify. Replayed
    here step by step with the second worker's stale rows (SQLite's in-memory test database
    cannot run the two at once)."""
    from brands.alerts.crossing import _apply

    stale = list(AlertThreshold.objects.filter(brand=brand))  # worker B's read, all armed
    first = alerts_check_usage(brand, live_keys=100, max_keys=100)  # worker A wins
    second = _apply(brand, stale, live_keys=100, max_keys=100, source="refusal", now=timezone.now(),
                    rearm=False, background=False)
    assert first.crossed == [80, 95, 100] and second is None
    assert AlertEvent.objects.filter(brand=brand).count() == 1


def test_a_restore_refused_by_the_key_limit_checks_the_alerts(client, brand_factory, member_factory):
    full = brand_factory("restore-full", max_keys=1)
    client.force_login(member_factory(full, Membership.Role.ADMIN))
    cache = BrandCache.for_brand(full)
    cache.set("a", 1, 600)
    client.post(f"/b/{full.slug}/keys/a/delete/", {"version": cache.key_info("a").version})
    cache.set("b", 2)
    entry = AuditEntry.objects.get(brand=full, action="key.delete")
    client.post(f"/b/{full.slug}/audit/{entry.pk}/restore/")
    assert not cache.has("a")
    assert AlertEvent.objects.get(brand=full).source == "refusal"


def test_a_bulk_copy_refused_by_the_key_limit_checks_the_alerts(client, brand_factory, member_factory):
    full = brand_factory("copy-full", max_keys=3)
    client.force_login(member_factory(full, Membership.Role.ADMIN))
    cache = BrandCache.for_brand(full)
    for i in range(2):
        cache.set(f"a:{i}", i, 600)
    data = {"prefix": "a:", "target": "b:", "operation": "copy"}
    expected = cache.bulk_copy("a:", "b:", move=False, dry_run=True).changed
    client.post(f"/b/{full.slug}/keys/bulk/copy/", {**data, "expected": str(expected)}, **HX)
    assert cache.live_count() == 3  # one copied, one refused
    assert AlertEvent.objects.get(brand=full).source == "refusal"
