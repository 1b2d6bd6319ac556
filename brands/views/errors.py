"""Styled 403, 404 and 500 pages with the site's navigation (settings ROOT_URLCONF handlers).

They must work when the database or Redis is why the request failed: the 404 and 403 pages show
the user's name only if it can be read (a failing session lookup is ignored), and the 500 page
is rendered without any request context, as Django's own is.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseNotFound,
    HttpResponseServerError,
)
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token


def _user_name(request: HttpRequest) -> str | None:
    try:
        user = request.user
        return user.get_username() if user.is_authenticated else None
    except Exception:  # the database (sessions, users) may be the reason for the error
        return None


@requires_csrf_token
def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # Our own PermissionDenied messages are written for people ("Viewers cannot change this
    # brand."); anything else says nothing more than the status.
    reason = str(exception) if isinstance(exception, PermissionDenied) and exception.args else ""
    body = loader.render_to_string("403.html", {"nav_user": _user_name(request), "reason": reason},
                                   request=request)
    return HttpResponseForbidden(body)


@requires_csrf_token
def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    body = loader.render_to_string("404.html", {"nav_user": _user_name(request),
                                                "request_path": request.path}, request=request)
    return HttpResponseNotFound(body)


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    # No request context: context processors could touch the very thing that failed.
    return HttpResponseServerError(loader.get_template("500.html").render({}))
