"""The brand's audit log: every change made from the dashboard (and the console), newest first."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from brands.access import BrandAccess, brand_view
from brands.models import AuditEntry

PER_PAGE = 50


@brand_view()
@require_GET
def audit_log(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    entries = AuditEntry.objects.filter(brand=access.brand).select_related("user").order_by("-at", "-id")
    page = Paginator(entries, PER_PAGE).get_page(request.GET.get("page"))
    context = {"access": access, "brand": access.brand, "page": page}
    partial = request.htmx and not request.htmx.history_restore_request
    return render(request, "brands/audit.html#table" if partial else "brands/audit.html", context)
