from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from brands.access import accessible_brands
from brands.cache import CacheUnavailable
from brands.usage import brands_usage


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    brands = list(accessible_brands(request.user))
    if len(brands) == 1 and not request.user.is_staff:
        # Nothing to choose: go straight to the one brand's keys.
        return redirect("keys", brands[0].slug)
    try:
        usage = brands_usage(brands)  # one Redis pipeline for every brand on the page
    except CacheUnavailable:
        # The list of brands comes from the database; it stays useful while Redis is down.
        usage = None
    rows = [(brand, usage.get(brand.pk) if usage else None) for brand in brands]
    return render(request, "brands/home.html", {"rows": rows, "usage_unavailable": usage is None})
