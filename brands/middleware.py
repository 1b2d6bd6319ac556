"""Request-level rules: an unreachable Redis becomes a clear 503 page instead of a 500 with a
traceback; request bodies above their URL's limit are refused (413) before anything reads them;
logged-in pages are never stored by browsers or proxies; the cache operations a request made are
counted in one round trip at its end."""

from __future__ import annotations

import logging

from django.conf import settings
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.urls import Resolver404, resolve
from django.utils.cache import add_never_cache_headers
from django_htmx.http import trigger_client_event

from brands.cache import CacheUnavailable, discard_op_counts, flush_op_counts

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


class RequestSizeLimitMiddleware:
    """Answers 413 when a request's Content-Length is above the limit of its URL, in the request
    phase: before CsrfViewMiddleware (which reads request.POST, and so parses a multipart upload
    into temporary files) and before any view. The limits are settings (README: "Request size
    limits"): ANONYMOUS_REQUEST_MAX_BYTES for anyone not logged in, whatever the URL;
    REQUEST_BODY_LIMITS by URL name, else REQUEST_MAX_BYTES, for logged-in users. A body without
    Content-Length is never read by Django (it reads CONTENT_LENGTH bytes, 0 when unset)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django treats it the same way: nothing is read
        if length > 0:
            limit = self.limit_for(request)
            if length > limit:
                return self.too_large(request, length, limit)
        return self.get_response(request)

    @staticmethod
    def limit_for(request) -> int:
        if not request.user.is_authenticated:
            return settings.ANONYMOUS_REQUEST_MAX_BYTES
        try:
            name = resolve(request.path_info).url_name
        except Resolver404:
            return settings.REQUEST_MAX_BYTES
        return settings.REQUEST_BODY_LIMITS.get(name, settings.REQUEST_MAX_BYTES)

    @staticmethod
    def too_large(request, length: int, limit: int):
        logger.warning("request body of %s bytes refused for %s %s (limit %s)", length, request.method,
                       request.path, limit)
        message = f"The request is too large: this page accepts at most {filesizeformat(limit)}."
        response = render(request, "413.html", {"message": message}, status=413)
        if request.headers.get("HX-Request") == "true":
            trigger_client_event(response, "toast", {"message": message, "level": "error"})
        return response


class NoStoreForAuthenticatedMiddleware:
    """``Cache-Control: no-store`` (Django's never-cache headers) on every response to a logged-in
    user: brand keys, scripts and audit logs must not stay in a browser's or a proxy's cache.
    Static files are served before this middleware and stay cacheable."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        return response


class OpCountsMiddleware:
    """The dashboard's cache operations of one request (brands.cache.opcounts), sent to Redis in
    one round trip once the response is made, whatever the view did (also on an error). A
    request that made no cache call sends nothing."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        # A request sends its own counts only. A server's request threads never hold others
        # (every request ends with a flush, which empties the tally even when it fails); a test
        # thread that used the cache directly before a request does, and they must not make the
        # request look like it cost a Redis call it did not make.
        discard_op_counts()
        try:
            return self.get_response(request)
        finally:
            flush_op_counts()
