"""The usage page: live usage of one brand and its key count over time."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from brands.access import BrandAccess, brand_view
from brands.usage_report import DEFAULT_PERIOD, PERIOD_LABELS, usage_chart, usage_summary


@brand_view()
@require_GET
def usage(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    chart = usage_chart(access.brand, request.GET.get("period", DEFAULT_PERIOD))
    context = {
        "brand": access.brand,
        "access": access,
        "chart": chart,
        "periods": list(PERIOD_LABELS.items()),
        "period_label": PERIOD_LABELS[chart.period],
    }
    if request.htmx:
        # Switching the period redraws the chart only; the live figures stay as they are.
        return render(request, "brands/usage.html#usage-chart", context)
    context["summary"] = usage_summary(access.brand)
    return render(request, "brands/usage.html", context)
