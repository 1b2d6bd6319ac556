"""The brand's audit log: every change made from the dashboard (and the console), newest first."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from brands.access import BrandAccess, brand_view
from brands.models import AuditEntry
from brands.views._htmx import render_page

PER_PAGE = 50


@brand_view()
@require_GET
def audit_log(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    entries = AuditEntry.objects.filter(brand=access.brand).select_related("user").order_by("-at", "-id")
    page = Paginator(entries, PER_PAGE).get_page(request.GET.get("page"))
    context = {"access": access, "brand": access.brand, "page": page}
    return render_page(request, "brands/audit.html", context, partial="table")
