"""The alerts pages: brand admins and staff change thresholds and channels (audited), viewers
read, other brands' admins get 404; bad input says why and changes nothing; CSRF; alerts on the
usage page and the staff monitor; the staff delivery log."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from brands.alerts import AlertChannels, AlertDelivery, AlertThreshold, alerts_check_usage, deliveries_send
from brands.models import AuditEntry, Membership
from tests.support.htmx import HX


def url(brand, suffix: str = "") -> str:
    return f"/b/{brand.slug}/alerts/{suffix}"


def percents(brand) -> list[int]:
    return list(AlertThreshold.objects.filter(brand=brand).values_list("percent", flat=True))


def test_admin_changes_thresholds_and_it_is_audited(admin_client, brand):
    response = admin_client.post(url(brand, "thresholds/"), {"thresholds": "50, 90 %, 100"}, **HX)
    assert json.loads(response["HX-Trigger"])["toast"]["message"] == "Thresholds saved: 50 %, 90 %, 100 %."
    assert percents(brand) == [50, 90, 100]
    entry = AuditEntry.objects.get(brand=brand, action="alerts.thresholds")
    assert entry.detail == "thresholds 80 %, 95 %, 100 % -> 50 %, 90 %, 100 %" and entry.outcome == "ok"
    # Without htmx: a redirect back to the page, which shows them.
    response = admin_client.post(url(brand, "thresholds/"), {"thresholds": "75"})
    assert response.status_code == 302 and percents(brand) == [75]
    assert "75 % armed" in admin_client.get(url(brand)).content.decode()


@pytest.mark.parametrize(("value", "message"), [
    ("0", "0 % is out of range: each threshold must be from 1 to 100 %."),
    ("80, 101", "101 % is out of range"),
    ("-5", "-5 % is out of range"),
    ("80, 80", "80 % is listed twice"),
    ("eighty", "&#x27;eighty&#x27; is not a whole number"),
    ("1 2 3 4 5 6 7 8 9 10 11", "At most 10 thresholds."),
    ("x" * 201, "Ensure this value has at most 200 characters"),
])
def test_bad_thresholds_say_why_and_change_nothing(admin_client, brand, value, message):
    response = admin_client.post(url(brand, "thresholds/"), {"thresholds": value})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert percents(brand) == [80, 95, 100]
    assert AuditEntry.objects.get(brand=brand, action="alerts.thresholds").outcome == "refused"
    fragment = admin_client.post(url(brand, "thresholds/"), {"thresholds": value}, **HX)
    assert fragment.status_code == 200 and message in fragment.content.decode()
    assert json.loads(fragment["HX-Trigger"])["toast"]["level"] == "error"


def test_admin_sets_a_webhook_and_turns_email_off(admin_client, brand):
    data = {"webhook_url": "https://hooks.example.com/x"}  # e-mail unticked
    response = admin_client.post(url(brand, "channels/"), data, **HX)
    assert json.loads(response["HX-Trigger"])["toast"]["message"] == "Channels saved."
    channels = AlertChannels.objects.get(brand=brand)
    assert (channels.email_admins, channels.webhook_url) == (False, "https://hooks.example.com/x")
    detail = AuditEntry.objects.get(brand=brand, action="alerts.channels").detail
    assert detail == "e-mail to admins off; webhook none -> https://hooks.example.com/x"
    assert channels.webhook_secret not in detail


@pytest.mark.parametrize(("value", "message"), [
    ("ftp://example.com/", "Only http:// and https:// URLs"),
    ("javascript:alert(1)", "Only http:// and https:// URLs"),
    ("https://user:pw@example.com/", "user name or password"),
    ("not a url", "Only http:// and https:// URLs"),
    ("http://[::1", "Not a valid URL"),
])
def test_bad_webhook_urls_say_why_and_change_nothing(admin_client, brand, value, message):
    response = admin_client.post(url(brand, "channels/"), {"email_admins": "on", "webhook_url": value})
    assert response.status_code == 400 and message in response.content.decode()
    assert not AlertChannels.objects.filter(brand=brand, webhook_url__gt="").exists()


def test_loopback_webhooks_are_refused_by_the_form_unless_allowed(admin_client, brand, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = admin_client.post(url(brand, "channels/"), {"webhook_url": "http://127.0.0.1:8000/hook"})
    assert response.status_code == 400 and "loopback, private or link-local" in response.content.decode()


def test_new_secret(admin_client, brand):
    old = AlertChannels.objects.create(brand=brand).webhook_secret
    admin_client.post(url(brand, "secret/"), **HX)
    new = AlertChannels.objects.get(brand=brand).webhook_secret
    assert new != old and len(new) >= 40
    entry = AuditEntry.objects.get(brand=brand, action="alerts.secret")
    assert entry.detail == "webhook signing secret replaced" and new not in entry.detail
    assert new in admin_client.get(url(brand)).content.decode()


def test_a_viewer_reads_but_cannot_change_nor_see_the_secret(client, brand, member_factory):
    secret = AlertChannels.objects.create(brand=brand).webhook_secret
    client.force_login(member_factory(brand, Membership.Role.VIEWER))
    page = client.get(url(brand)).content.decode()
    assert "80 % armed" in page and "Save thresholds" not in page and secret not in page
    for suffix, data in (("thresholds/", {"thresholds": "10"}), ("channels/", {"webhook_url": ""}),
                         ("secret/", {})):
        assert client.post(url(brand, suffix), data).status_code == 403
    assert percents(brand) == [80, 95, 100]
    assert AlertChannels.objects.get(brand=brand).webhook_secret == secret


def test_another_brands_admin_gets_404(client, brand, brand_factory, member_factory):
    other = brand_factory("other")
    client.force_login(member_factory(other, Membership.Role.ADMIN))
    assert client.get(url(brand)).status_code == 404
    assert client.post(url(brand, "thresholds/"), {"thresholds": "10"}).status_code == 404
    assert percents(brand) == [80, 95, 100]


def test_staff_change_any_brand(client, brand, staff_user):
    client.force_login(staff_user)
    client.post(url(brand, "thresholds/"), {"thresholds": "60"})
    assert percents(brand) == [60]
    assert AuditEntry.objects.get(brand=brand, action="alerts.thresholds").user == staff_user


def test_csrf_is_required(brand, brand_admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(brand_admin)
    assert client.post(url(brand, "thresholds/"), {"thresholds": "10"}).status_code == 403
    assert percents(brand) == [80, 95, 100]


def test_anonymous_users_are_sent_to_log_in(client, brand):
    assert client.get(url(brand)).status_code == 302
    assert client.get("/staff/alerts/").status_code == 302


def test_the_usage_page_lists_the_alerts(admin_client, brand):
    AlertChannels.objects.create(brand=brand, email_admins=False, webhook_url="http://127.0.0.1:9/none")
    alerts_check_usage(brand, live_keys=96, max_keys=100)
    page = admin_client.get(f"/b/{brand.slug}/usage/").content.decode()
    assert 'id="usage-alerts"' in page
    assert "80 % fired" in page and "95 % fired" in page and "100 % armed" in page
    assert "(crossed 80 %, 95 %)" in page and "96 / 100" in page
    assert "webhook: <span" not in page  # delivery states are on the Alerts page
    assert "webhook: <span" in admin_client.get(url(brand)).content.decode()


def test_the_staff_monitor_lists_alerts_and_the_delivery_log_shows_attempts(client, brand_factory, staff_user,
                                                                             settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    hot = brand_factory("hot")
    AlertChannels.objects.create(brand=hot, email_admins=False, webhook_url="http://127.0.0.1:9/hook")
    alerts_check_usage(hot, live_keys=100, max_keys=100)
    deliveries_send()  # refused: loopback is not allowed here
    client.force_login(staff_user)
    monitor = client.get("/staff/quotas/").content.decode()
    assert 'id="monitor-alerts"' in monitor and '<a href="/b/hot/usage/">hot</a>' in monitor
    assert "100 %" in monitor
    log = client.get("/staff/alerts/").content.decode()
    delivery = AlertDelivery.objects.get()
    assert f'id="delivery-{delivery.pk}"' in log
    assert "#1" in log and "loopback, private or link-local" in log and "retry at" in log
    assert client.get("/staff/alerts/?state=delivered").content.decode().count('id="delivery-') == 0
    assert client.get("/staff/alerts/?state=pending&brand=hot").content.decode().count('id="delivery-') == 1
    assert client.get("/staff/alerts/?state=bogus&page=999&channel=x").status_code == 200


def test_the_page_escapes_what_users_typed(client, brand_factory, staff_user):
    hostile = brand_factory("hostile", name="<script>x</script>")
    AlertChannels.objects.create(brand=hostile, webhook_url='https://example.com/"><img src=x>')
    client.force_login(staff_user)
    page = client.get(url(hostile)).content.decode()
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert '"><img src=x>' not in page and "&quot;&gt;&lt;img src=x&gt;" in page


def test_the_delivery_log_is_staff_only(admin_client):
    assert admin_client.get("/staff/alerts/").status_code == 403


def test_the_admin_lists_alerts_read_only(client, brand, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="pw-test-123"))
    alerts_check_usage(brand, live_keys=100, max_keys=100)
    for model in ("alertthreshold", "alertchannels", "alertevent", "alertdelivery"):
        assert client.get(f"/admin/brands/{model}/").status_code == 200
    assert client.get("/admin/brands/alertevent/add/").status_code == 403


def test_a_deactivated_brand_shows_its_alerts_read_only(admin_client, brand):
    AlertChannels.objects.create(brand=brand, webhook_url="https://hooks.example.com/a")
    brand.is_active = False
    brand.save()
    page = admin_client.get(url(brand)).content.decode()
    assert "Save thresholds" not in page and "Save channels" not in page and "New secret" not in page
    assert "<code>https://hooks.example.com/a</code>" in page
    assert admin_client.post(url(brand, "thresholds/"), {"thresholds": "10"}).status_code == 403
    assert percents(brand) == [80, 95, 100]
