"""The client's address for log-in throttling (django-axes' AXES_CLIENT_IP_CALLABLE).

Behind TRUSTED_PROXY_COUNT reverse proxies that each append the address they saw to
X-Forwarded-For, the client is the entry the outermost trusted proxy added (counted from the
right); anything further left was sent by the client and can be forged. With no proxy (0), or a
request that did not come through them, it is REMOTE_ADDR.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    count = settings.TRUSTED_PROXY_COUNT
    if count > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= count:
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR")
