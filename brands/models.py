"""Brands, their quotas, who may use them, and what happened to them.

Every table the product needs is defined here, so later features add behaviour, not migrations.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


def quota_default(field: str) -> int:
    """A quota default from settings.CACHEADMIN_QUOTA_DEFAULTS (the one place they live)."""
    return settings.CACHEADMIN_QUOTA_DEFAULTS[field]


# Named callables (not lambdas) so that migrations can reference them.
def default_max_keys() -> int:
    return quota_default("max_keys")


def default_max_value_bytes() -> int:
    return quota_default("max_value_bytes")


def default_default_ttl() -> int:
    return quota_default("default_ttl")


def default_max_ttl() -> int:
    return quota_default("max_ttl")


def default_max_ops_per_execution() -> int:
    return quota_default("max_ops_per_execution")


def default_script_timeout_ms() -> int:
    return quota_default("script_timeout_ms")


def default_script_memory_mb() -> int:
    return quota_default("script_memory_mb")


def default_max_concurrent_scripts() -> int:
    return quota_default("max_concurrent_scripts")


class Brand(models.Model):
    slug = models.SlugField(
        unique=True,
        max_length=50,
        help_text=_("URL-safe identifier, used in dashboard URLs and on the command line."),
    )
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    def save(self, *args, **kwargs) -> None:
        creating = self._state.adding
        super().save(*args, **kwargs)
        if creating:
            # Every brand has its quota row from the moment it exists: nothing downstream has
            # to handle a brand without limits.
            QuotaSettings.objects.get_or_create(brand=self)
            # ... and the default quota alerts (brands/alerts): 80 %, 95 % and 100 % of max_keys.
            AlertThreshold.objects.bulk_create(
                [AlertThreshold(brand=self, percent=p) for p in DEFAULT_THRESHOLDS], ignore_conflicts=True
            )

    def write_refusal(self) -> str | None:
        """Why nothing may be written to this brand's cache (and no script run), or None.
        The one rule for a deactivated brand; brand_view, the script runner and run_script use
        it (docs/contract.md#dashboard-use)."""
        if self.is_active:
            return None
        return (f"Brand {self.slug!r} is deactivated: its keys are read only and scripts do not run "
                "until staff reactivate it.")


POSITIVE = [MinValueValidator(1)]


class QuotaSettings(models.Model):
    brand = models.OneToOneField(Brand, on_delete=models.CASCADE, related_name="quota")
    max_keys = models.PositiveIntegerField(default=default_max_keys, validators=POSITIVE)
    max_value_bytes = models.PositiveIntegerField(
        default=default_max_value_bytes,
        validators=POSITIVE,
        help_text=_("Largest value, in UTF-8 bytes of its JSON text."),
    )
    default_ttl = models.PositiveIntegerField(
        default=default_default_ttl,
        validators=POSITIVE,
        help_text=_("Seconds; used when a write gives no TTL."),
    )
    max_ttl = models.PositiveIntegerField(
        default=default_max_ttl,
        validators=POSITIVE,
        help_text=_("Seconds; longer TTLs are clamped to this."),
    )
    max_ops_per_execution = models.PositiveIntegerField(
        default=default_max_ops_per_execution, validators=POSITIVE
    )
    script_timeout_ms = models.PositiveIntegerField(
        default=default_script_timeout_ms, validators=POSITIVE
    )
    script_memory_mb = models.PositiveIntegerField(
        default=default_script_memory_mb, validators=POSITIVE
    )
    max_concurrent_scripts = models.PositiveIntegerField(
        default=default_max_concurrent_scripts,
        validators=POSITIVE,
        help_text=_("Script runs of this brand in flight at once, across every web process."),
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("quota settings")
        verbose_name_plural = _("quota settings")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(default_ttl__lte=models.F("max_ttl")),
                name="quota_default_ttl_within_max_ttl",
                violation_error_message=_("The default TTL cannot exceed the maximum TTL."),
            ),
        ]

    def __str__(self) -> str:
        return f"quota for {self.brand_id}"

    def clean(self) -> None:
        super().clean()
        if (
            self.default_ttl is not None
            and self.max_ttl is not None
            and self.default_ttl > self.max_ttl
        ):
            raise ValidationError(
                {"default_ttl": _("The default TTL (%(d)s s) cannot exceed the maximum TTL (%(m)s s).")
                 % {"d": self.default_ttl, "m": self.max_ttl}}
            )


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", _("Admin (read and write)")
        VIEWER = "viewer", _("Viewer (read only)")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="brand_memberships"
    )
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "brand"], name="one_membership_per_user_brand"),
        ]
        ordering = ["brand__slug", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.brand} ({self.role})"


class UsageSnapshot(models.Model):
    """A brand's usage at one moment, recorded by ``manage.py record_usage`` (cron)."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="usage_snapshots")
    taken_at = models.DateTimeField(db_index=True)
    live_keys = models.PositiveIntegerField()
    max_keys = models.PositiveIntegerField()
    stored_bytes = models.PositiveBigIntegerField(default=0)
    refused_writes = models.PositiveBigIntegerField(default=0)
    # The forecast as of this snapshot (brands/usage/forecast.py): when the key limit is reached
    # at the trend of the 7 days up to it; null when there is none. The staff monitor sorts by it.
    limit_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-taken_at"]
        indexes = [models.Index(fields=["brand", "-taken_at"], name="usage_brand_recent")]

    def __str__(self) -> str:
        return f"{self.brand_id} at {self.taken_at:%Y-%m-%d %H:%M}: {self.live_keys} keys"


class AuditEntry(models.Model):
    """A change made from the dashboard or the console."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="audit_entries")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=40)
    target = models.CharField(max_length=255, blank=True, help_text=_("Key or prefix."))
    outcome = models.CharField(max_length=40, default="ok")
    detail = models.TextField(blank=True)
    # A change to one key keeps the key as it was before and after (JSON text and expiry in ms
    # on Redis' clock; None when the key did not exist, or its value was above the brand's value
    # limit), for the audit log's diff and for "restore" (docs/contract.md#dashboard-use).
    before_value = models.TextField(null=True, blank=True)
    before_expires_at = models.BigIntegerField(null=True, blank=True)
    after_value = models.TextField(null=True, blank=True)
    after_expires_at = models.BigIntegerField(null=True, blank=True)
    # A bulk delete keeps what it deleted in Redis until undo_until (brands.cache "bins").
    undo_token = models.CharField(max_length=32, blank=True)
    undo_until = models.DateTimeField(null=True, blank=True)
    # A restore points at the entry it undid.
    restores = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="restorations"
    )
    # A script run: the keys it wrote or deleted, one per line.
    written_keys = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["brand", "-at"], name="audit_brand_recent")]
        verbose_name_plural = _("audit entries")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.target} ({self.outcome})"


class ScriptRun(models.Model):
    """One execution of a script from the console (its history)."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="script_runs")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    code = models.TextField()
    ok = models.BooleanField()
    ops = models.PositiveIntegerField(default=0)
    duration_ms = models.FloatField(default=0)
    error = models.CharField(max_length=500, blank=True)
    result = models.JSONField(default=dict, blank=True, help_text=_("The execution result."))

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["brand", "-at"], name="scriptrun_brand_recent")]

    def __str__(self) -> str:
        return f"{self.brand_id} run at {self.at:%Y-%m-%d %H:%M:%S} ({'ok' if self.ok else 'error'})"


# Quota alerts keep their tables in their own package (brands/alerts/models.py); imported here so
# they are the app's models and Brand.save can give a new brand its default thresholds.
from brands.alerts.models import (  # noqa: E402, F401
    DEFAULT_THRESHOLDS,
    AlertChannels,
    AlertDelivery,
    AlertEvent,
    AlertThreshold,
    DeliveryAttempt,
)
