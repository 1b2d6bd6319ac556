"""Turns an unreachable Redis into a clear 503 page instead of a 500 with a traceback."""

from __future__ import annotations

import logging

from django.shortcuts import render
from django_htmx.http import trigger_client_event

from brands.cache import CacheUnavailable

logger = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = "The cache is unavailable right now. Please try again in a moment."


class CacheUnavailableMiddleware:
    """Any view raising ``CacheUnavailable`` answers 503: the full page for a normal request
    (it retries itself while the method is GET), a small fragment plus a toast for htmx. Nothing
    is kept between requests, so pages work again as soon as Redis answers."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, CacheUnavailable):
            return None
        logger.warning("cache unavailable during %s %s: %s", request.method, request.path, exception)
        htmx = getattr(request, "htmx", None)
        if htmx:
            response = render(request, "503.html#banner", status=503)
            # htmx does not swap error responses by default; the toast still tells the user.
            trigger_client_event(response, "toast", {"message": UNAVAILABLE_MESSAGE, "level": "error"})
        else:
            response = render(request, "503.html", {"auto_retry": request.method == "GET"}, status=503)
        response["Retry-After"] = "10"
        return response
