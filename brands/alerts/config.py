"""Editing a brand's alerts: the thresholds and the channels (forms and writes, each audited).

Thresholds are whole percentages of ``max_keys`` from 1 to 100, at most ``MAX_THRESHOLDS``, no
duplicates. A threshold kept across an edit keeps its state (fired stays fired, so saving the
form never re-sends an alert); a new one starts armed and fires at the next check if usage is
already at or above it.
"""

from __future__ import annotations

from django import forms
from django.db import transaction
from django.utils import timezone

from brands.alerts.models import AlertChannels, AlertEvent, AlertThreshold, new_webhook_secret
from brands.alerts.notify import deliveries_create
from brands.alerts.webhooks import WebhookURLError, check_url_syntax
from brands.audit import audit_record
from brands.cache import BrandCache, CacheUnavailable

MAX_THRESHOLDS = 10


def parse_thresholds(text: str) -> list[int]:
    """"80, 95 100" -> [80, 95, 100]; ValidationError with a message a person can act on."""
    items = [item for item in text.replace(",", " ").replace("%", " ").split() if item]
    values: list[int] = []
    for item in items:
        try:
            value = int(item)
        except ValueError:
            raise forms.ValidationError(
                f"{item!r} is not a whole number: write percentages like 80, 95, 100.") from None
        if not 1 <= value <= 100:
            raise forms.ValidationError(
                f"{value} % is out of range: each threshold must be from 1 to 100 %.")
        if value in values:
            raise forms.ValidationError(f"{value} % is listed twice: each threshold may appear once.")
        values.append(value)
    if len(values) > MAX_THRESHOLDS:
        raise forms.ValidationError(f"At most {MAX_THRESHOLDS} thresholds.")
    return sorted(values)


class ThresholdsForm(forms.Form):
    thresholds = forms.CharField(
        label="Thresholds (% of the key limit)", max_length=200, required=False,
        help_text="Whole percentages from 1 to 100, separated by commas; empty: no alerts.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "inputmode": "numeric"}),
    )

    def clean_thresholds(self) -> list[int]:
        return parse_thresholds(self.cleaned_data["thresholds"])


class ChannelsForm(forms.Form):
    email_admins = forms.BooleanField(label="E-mail the brand's admins", required=False)
    webhook_url = forms.CharField(
        label="Webhook URL", max_length=500, required=False,
        help_text="An http:// or https:// URL that accepts a signed JSON POST; empty: no webhook.",
        widget=forms.URLInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def clean_webhook_url(self) -> str:
        url = self.cleaned_data["webhook_url"].strip()
        if url:
            try:
                check_url_syntax(url)
            except WebhookURLError as exc:
                raise forms.ValidationError(str(exc)) from None
        return url


def channels_for(brand) -> AlertChannels:
    """The brand's channels row, made on first use (e-mail on, no webhook, a fresh secret)."""
    channels, _ = AlertChannels.objects.get_or_create(brand=brand)
    return channels


def thresholds_text(brand) -> str:
    percents = AlertThreshold.objects.filter(brand=brand).values_list("percent", flat=True)
    return ", ".join(str(p) for p in percents)


def thresholds_update(*, brand, percents: list[int], by) -> bool:
    """Make the brand's thresholds exactly ``percents``; kept ones keep their state. Returns
    whether anything changed (an unchanged save writes no audit entry)."""
    with transaction.atomic():
        rows = AlertThreshold.objects.select_for_update().filter(brand=brand)
        current = set(rows.values_list("percent", flat=True))
        wanted = set(percents)
        if current == wanted:
            return False
        AlertThreshold.objects.filter(brand=brand, percent__in=current - wanted).delete()
        AlertThreshold.objects.bulk_create(
            [AlertThreshold(brand=brand, percent=p) for p in sorted(wanted - current)])
        before = ", ".join(f"{p} %" for p in sorted(current)) or "none"
        after = ", ".join(f"{p} %" for p in sorted(wanted)) or "none"
        audit_record(brand=brand, user=by, action="alerts.thresholds", target="alerts",
                     detail=f"thresholds {before} -> {after}")
    return True


def channels_update(*, brand, email_admins: bool, webhook_url: str, by) -> bool:
    with transaction.atomic():
        channels = channels_for(brand)
        changes = []
        if channels.email_admins != email_admins:
            changes.append(f"e-mail to admins {'on' if email_admins else 'off'}")
        if channels.webhook_url != webhook_url:
            changes.append(f"webhook {channels.webhook_url or 'none'} -> {webhook_url or 'none'}")
        if not changes:
            return False
        channels.email_admins = email_admins
        channels.webhook_url = webhook_url
        channels.save()
        audit_record(brand=brand, user=by, action="alerts.channels", target="alerts",
                     detail="; ".join(changes))
    return True


def webhook_secret_rotate(*, brand, by) -> str:
    """A new signing secret (the old one stops working at once); the secret is not audited."""
    with transaction.atomic():
        channels = channels_for(brand)
        channels.webhook_secret = new_webhook_secret()
        channels.save(update_fields=["webhook_secret", "updated"])
        audit_record(brand=brand, user=by, action="alerts.secret", target="alerts",
                     detail="webhook signing secret replaced")
    return channels.webhook_secret


class NoWebhook(ValueError):
    """A test webhook was asked for a brand without a webhook URL."""


def webhook_test_send(*, brand, by) -> AlertEvent:
    """"Send a test webhook": a ``quota.test`` request with the brand's current usage, signed
    and delivered (retries, log) like an alert, so admins can check their receiver. Listed on the
    Alerts page only; no e-mail, no threshold changes state."""
    channels = channels_for(brand)
    if not channels.webhook_url:
        raise NoWebhook("Set a webhook URL first.")
    try:
        live_keys = BrandCache.for_brand(brand, raise_unavailable=True).live_count()
    except CacheUnavailable:
        live_keys = 0
    with transaction.atomic():
        event = AlertEvent.objects.create(brand=brand, at=timezone.now(), percent=0, crossed=[],
                                          live_keys=live_keys, max_keys=brand.quota.max_keys,
                                          source=AlertEvent.Source.TEST)
        deliveries_create(event, background=True, email=False)
        audit_record(brand=brand, user=by, action="alerts.test", target="alerts",
                     detail=f"test webhook to {channels.webhook_url}")
    return event
