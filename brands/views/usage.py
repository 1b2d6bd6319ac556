"""The usage page of one brand (live usage and its key count over time), and the brand header's
usage bar on its own."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from brands.access import BrandAccess, brand_view
from brands.alerts import brand_alerts
from brands.usage import (
    DEFAULT_PERIOD,
    PERIOD_LABELS,
    analysis_section,
    brand_forecast,
    ops_report,
    script_summary,
    usage_chart,
    usage_summary,
)
from brands.views._htmx import brand_usage_or_none, render_page, wants_fragment


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
    if wants_fragment(request):
        # Switching the period redraws the chart only; the live figures stay as they are.
        return render(request, "brands/usage.html#usage-chart", context)
    summary = usage_summary(access.brand)
    # The header's bar shows the same figures the page computed: no second round trip.
    context.update(summary=summary, brand_usage=summary.usage)
    context["scripts"] = script_summary(access.brand)  # its own section: _usage_scripts.html
    # Its own section (_usage_alerts.html): the latest five, delivery states on the Alerts page.
    context["alerts"] = brand_alerts(access.brand, events=5, deliveries=False)
    # Its own section too: _usage_forecast.html.
    context["forecast"] = brand_forecast(access.brand, live_keys=summary.usage.live_keys)
    context["analysis"] = analysis_section(access.brand, summary.analysis)  # _usage_analysis.html
    context["ops"] = ops_report(access.brand)  # operations and hot keys: _usage_ops.html
    return render_page(request, "brands/usage.html", context)


@brand_view()
@require_GET
def usage_bar(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    """The brand header's usage bar alone, reloaded after a change (event "usage-changed")."""
    return render(request, "brands/brand_base.html#usage",
                  {"access": access, "brand": access.brand, "brand_usage": brand_usage_or_none(access.brand)})
