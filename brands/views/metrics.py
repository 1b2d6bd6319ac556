"""/metrics for Prometheus: a staff session, or the METRICS_TOKEN bearer token."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from brands.usage import metrics_text


def _token_ok(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    # Constant-time: the comparison must not tell a guesser how many leading bytes were right.
    return hmac.compare_digest(given.strip().encode(), token.encode())


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if request.user.is_staff or _token_ok(request):
        return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
    if settings.METRICS_TOKEN:
        response = HttpResponse("A valid bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse("Staff only.\n", status=403, content_type="text/plain")
