"""Page or fragment, and toasts: the one place views decide what an htmx request gets.

An htmx request gets the named partial of the page's template; every other request, and an htmx
history restore (the back button after htmx's history cache was dropped), gets the whole page.
A brand's whole page also carries the brand header's usage bar, loaded here with the page rather
than by a template tag.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.http import trigger_client_event

from brands.cache import CacheUnavailable
from brands.usage import BrandUsage, brands_usage


def wants_fragment(request: HttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


def brand_usage_or_none(brand) -> BrandUsage | None:
    """The usage bar's figures, or None when Redis is down (pages that work without Redis, such
    as the audit log, still render and the bar says so)."""
    try:
        return brands_usage([brand])[brand.pk]
    except CacheUnavailable:
        return None


def render_page(request: HttpRequest, template: str, context: dict, *, partial: str | None = None,
                status: int = 200) -> HttpResponse:
    """``template`` as a whole page, or its ``partial`` for an htmx request that wants one."""
    if partial is not None and wants_fragment(request):
        return render(request, f"{template}#{partial}", context, status=status)
    access = getattr(request, "brand_access", None)
    if access is not None and "brand_usage" not in context:
        context = {**context, "brand_usage": brand_usage_or_none(access.brand)}
    return render(request, template, context, status=status)


def toast(response: HttpResponse, message: str, level: str = "ok", *, usage_changed: bool = False
          ) -> HttpResponse:
    """A toast message on the page; ``usage_changed`` also makes the brand header's usage bar
    reload itself."""
    trigger_client_event(response, "toast", {"message": message, "level": level})
    if usage_changed:
        trigger_client_event(response, "usage-changed", {})
    return response
