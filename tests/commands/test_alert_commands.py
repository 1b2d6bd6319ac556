"""The commands around quota alerts: record_usage checks the thresholds and sends what fired;
run_script checks them when the script was refused by the key limit; deliver_alerts retries."""

from __future__ import annotations

import io
import sys
from io import StringIO

from django.core import mail
from django.core.management import call_command

from brands.alerts import AlertDelivery, AlertEvent
from brands.cache import BrandCache
from brands.models import Membership


def admin_with_mail(brand, member_factory, django_user_model) -> None:
    user = member_factory(brand, Membership.Role.ADMIN)
    django_user_model.objects.filter(pk=user.pk).update(email="ops@example.com")


def test_record_usage_sends_the_alert_once(brand_factory, member_factory, django_user_model,
                                           django_capture_on_commit_callbacks):
    brand = brand_factory("busy", max_keys=5)
    admin_with_mail(brand, member_factory, django_user_model)
    cache = BrandCache.for_brand(brand)
    for i in range(5):
        assert cache.set(f"k{i}", i)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            call_command("record_usage", stdout=StringIO())
    assert [e.crossed for e in AlertEvent.objects.filter(brand=brand)] == [[80, 95, 100]]
    [message] = mail.outbox
    assert message.to == ["ops@example.com"] and "reached 100 % of its key limit" in message.subject


def test_run_script_refused_by_the_key_limit_alerts(brand_factory, member_factory, django_user_model,
                                                    script_pool, django_capture_on_commit_callbacks, capsys):
    brand = brand_factory("scripted", max_keys=1)
    admin_with_mail(brand, member_factory, django_user_model)
    old_stdin, sys.stdin = sys.stdin, io.StringIO("cache.set('a', 1); cache.set('b', 2);")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            call_command("run_script", "--brand", brand.slug, "-")
    finally:
        sys.stdin = old_stdin
    assert "key limit of 1 keys reached" in capsys.readouterr().out
    assert AlertEvent.objects.get(brand=brand).source == "refusal"
    assert len(mail.outbox) == 1  # sent before the command returned (no background thread)
    assert AlertDelivery.objects.get().state == "delivered"


def test_deliver_alerts_with_nothing_due(db):
    out = StringIO()
    call_command("deliver_alerts", stdout=out)
    assert out.getvalue().strip() == "0 attempts: 0 delivered, 0 did not succeed; 0 pending."


def test_deliver_alerts_sends_everything_due_in_batches(brand_factory, member_factory, django_user_model,
                                                        monkeypatch):
    from brands.alerts import alerts_check_usage
    from brands.management.commands import deliver_alerts

    monkeypatch.setattr(deliver_alerts, "BATCH", 2)
    for i in range(5):
        brand = brand_factory(f"batch-{i}")
        admin_with_mail(brand, member_factory, django_user_model)
        alerts_check_usage(brand, live_keys=80, max_keys=100)
    out = StringIO()
    call_command("deliver_alerts", stdout=out)
    assert out.getvalue().strip() == "5 attempts: 5 delivered, 0 did not succeed; 0 pending."
    assert len(mail.outbox) == 5
