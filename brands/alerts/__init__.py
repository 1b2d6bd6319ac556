"""Quota alerts (docs/alerts.md): per-brand thresholds of max_keys, checked when usage is recorded
and when a write is refused by the key limit; one notification per crossing, by e-mail to the
brand's admins and by a signed webhook, retried with backoff and logged.

    models.py     AlertThreshold (armed / fired), AlertChannels, AlertEvent, AlertDelivery,
                  DeliveryAttempt (imported by brands/models.py: migration 0004_alerts)
    crossing.py   the hysteresis: alerts_check_usage / _snapshots / _refusal
    notify.py     the e-mail and the webhook body; deliveries created for an event
    delivery.py   attempts, backoff, claims; the background first attempt
    webhooks.py   posting without SSRF: scheme, resolved address, pinned connection, timeouts
    signing.py    HMAC-SHA256 over "<timestamp>.<body>" and its verification
    config.py     the thresholds and channels forms and their audited writes
    selectors.py  what the usage page, the staff monitor and the delivery log show

Imports: models, audit, and the brands.cache package (the live count on a refusal); nothing
here imports views, usage or scripting (usage and the views call in).
"""

from brands.alerts.config import (
    MAX_THRESHOLDS,
    ChannelsForm,
    NoWebhook,
    ThresholdsForm,
    channels_for,
    channels_update,
    parse_thresholds,
    thresholds_text,
    thresholds_update,
    webhook_secret_rotate,
    webhook_test_send,
)
from brands.alerts.crossing import (
    alerts_after_writes,
    alerts_check_refusal,
    alerts_check_snapshots,
    alerts_check_usage,
    at_or_above,
    refused_by_key_limit,
)
from brands.alerts.delivery import deliveries_send, retry_delay, wait_for_background
from brands.alerts.models import (
    DEFAULT_THRESHOLDS,
    AlertChannels,
    AlertDelivery,
    AlertEvent,
    AlertThreshold,
    DeliveryAttempt,
)
from brands.alerts.selectors import BrandAlerts, MonitorAlerts, brand_alerts, delivery_log, monitor_alerts
from brands.alerts.signing import signature, verify

__all__ = [
    "DEFAULT_THRESHOLDS",
    "MAX_THRESHOLDS",
    "AlertChannels",
    "AlertDelivery",
    "AlertEvent",
    "AlertThreshold",
    "BrandAlerts",
    "ChannelsForm",
    "DeliveryAttempt",
    "MonitorAlerts",
    "NoWebhook",
    "ThresholdsForm",
    "alerts_after_writes",
    "alerts_check_refusal",
    "alerts_check_snapshots",
    "alerts_check_usage",
    "at_or_above",
    "brand_alerts",
    "channels_for",
    "channels_update",
    "deliveries_send",
    "delivery_log",
    "monitor_alerts",
    "parse_thresholds",
    "refused_by_key_limit",
    "retry_delay",
    "signature",
    "thresholds_text",
    "thresholds_update",
    "verify",
    "wait_for_background",
    "webhook_secret_rotate",
    "webhook_test_send",
]
