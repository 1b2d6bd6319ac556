"""Webhook signatures (docs/webhooks.md): HMAC-SHA256, keyed with the brand's webhook secret, over
``<timestamp>.<body>``. Signing the timestamp with the body lets a receiver refuse a replayed
request: an old timestamp cannot be swapped for a fresh one without the secret."""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Cacheadmin-Timestamp"
SIGNATURE_HEADER = "X-Cacheadmin-Signature"
EVENT_HEADER = "X-Cacheadmin-Event"
DELIVERY_HEADER = "X-Cacheadmin-Delivery"
SIGNATURE_PREFIX = "sha256="
TOLERANCE_SECONDS = 300  # what docs/webhooks.md tells receivers to accept


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """The header's value: ``sha256=`` and the hex HMAC of ``b"<timestamp>." + body``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return SIGNATURE_PREFIX + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(secret: str, body: bytes, timestamp: str, signature_header: str, *,
           tolerance: int = TOLERANCE_SECONDS, now: float | None = None) -> bool:
    """The receiver's check (the recipe of docs/webhooks.md): a fresh timestamp and a matching
    signature, compared in constant time."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, sent, body), signature_header or "")
