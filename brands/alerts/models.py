"""The tables of quota alerts: a brand's thresholds (each armed or fired), its channels, the
alerts that fired and every delivery attempt.

Imported at the end of brands/models.py, so they belong to the ``brands`` app and its migrations
(0004_alerts).
"""

from __future__ import annotations

import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

DEFAULT_THRESHOLDS = (80, 95, 100)


def new_webhook_secret() -> str:
    """32 random bytes as URL-safe text: the HMAC key a brand's webhook is signed with."""
    return secrets.token_urlsafe(32)


class AlertThreshold(models.Model):
    """One percentage of ``max_keys`` a brand wants to hear about. ``fired_at`` is None while the
    threshold is armed; it is set when usage is seen at or above it (one notification), and
    cleared when usage is next seen below it (armed again)."""

    brand = models.ForeignKey("brands.Brand", on_delete=models.CASCADE, related_name="alert_thresholds")
    percent = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(100)])
    fired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["brand_id", "percent"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "percent"], name="alert_threshold_once_per_brand"),
            models.CheckConstraint(condition=models.Q(percent__gte=1, percent__lte=100),
                                   name="alert_threshold_1_to_100"),
        ]

    def __str__(self) -> str:
        return f"{self.brand_id} at {self.percent} % ({'fired' if self.fired_at else 'armed'})"

    @property
    def armed(self) -> bool:
        return self.fired_at is None


class AlertChannels(models.Model):
    """Where a brand's alerts go: e-mail to its admins (on by default) and one webhook."""

    brand = models.OneToOneField("brands.Brand", on_delete=models.CASCADE, related_name="alert_channels")
    email_admins = models.BooleanField(default=True, help_text=_("E-mail every admin of the brand."))
    webhook_url = models.CharField(max_length=500, blank=True)
    webhook_secret = models.CharField(max_length=100, default=new_webhook_secret)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("alert channels")
        verbose_name_plural = _("alert channels")

    def __str__(self) -> str:
        return f"alert channels of {self.brand_id}"


class AlertEvent(models.Model):
    """Usage crossed one or more thresholds upward: one notification, however many crossed."""

    class Source(models.TextChoices):
        SNAPSHOT = "snapshot", _("usage recorded")
        REFUSAL = "refusal", _("a write refused by the key limit")
        TEST = "test", _("a test from the Alerts page")

    brand = models.ForeignKey("brands.Brand", on_delete=models.CASCADE, related_name="alert_events")
    at = models.DateTimeField(db_index=True)
    percent = models.PositiveSmallIntegerField(help_text=_("The highest threshold crossed (0 for a test)."))
    crossed = models.JSONField(default=list, help_text=_("Every threshold crossed, ascending."))
    live_keys = models.PositiveIntegerField()
    max_keys = models.PositiveIntegerField()
    source = models.CharField(max_length=10, choices=Source.choices)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["brand", "-at"], name="alertevent_brand_recent")]

    def __str__(self) -> str:
        return f"{self.brand_id} crossed {self.percent} % at {self.at:%Y-%m-%d %H:%M}"


class AlertDelivery(models.Model):
    """One notification of an event on one channel, tried until delivered or out of attempts."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("e-mail")
        WEBHOOK = "webhook", _("webhook")

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")

    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    target = models.TextField(help_text=_("The webhook URL, or the e-mail addresses (one per line)."))
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField(help_text=_("The JSON body of a webhook, or the e-mail's text."))
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the next attempt is due; also the claim: a worker that takes a delivery moves it
    # ahead by the claim lease in one conditional UPDATE, so two runners never send it twice.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="alertdelivery_due")]
        verbose_name_plural = _("alert deliveries")

    def __str__(self) -> str:
        return f"{self.channel} for event {self.event_id} ({self.state})"


class DeliveryAttempt(models.Model):
    """One try of a delivery: when, what answered (HTTP status or error) and when the next is."""

    delivery = models.ForeignKey(AlertDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.FloatField(default=0)
    next_retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["delivery_id", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"

    @property
    def ok(self) -> bool:
        return not self.error and (self.status_code is None or 200 <= self.status_code < 300)
