"""Quota alerts: a brand's alerts page (thresholds, channels, recent alerts; brand admins and staff
change them, viewers read) and the staff delivery log. The rules live in brands.alerts."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from brands.access import BrandAccess, brand_view
from brands.alerts import (
    ChannelsForm,
    NoWebhook,
    ThresholdsForm,
    brand_alerts,
    channels_for,
    channels_update,
    delivery_log,
    thresholds_text,
    thresholds_update,
    webhook_secret_rotate,
    webhook_test_send,
)
from brands.alerts.selectors import CHANNELS, STATES
from brands.alerts.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from brands.views._audit import audit_refusal, form_errors
from brands.views._htmx import render_page, toast, wants_fragment
from brands.views.staff import staff_required

TEMPLATE = "brands/alerts.html"


def _context(access: BrandAccess, *, thresholds_form: ThresholdsForm | None = None,
             channels_form: ChannelsForm | None = None, error: str = "") -> dict:
    channels = channels_for(access.brand) if access.role != "viewer" else None
    if thresholds_form is None:
        thresholds_form = ThresholdsForm(initial={"thresholds": thresholds_text(access.brand)})
    if channels_form is None and channels is not None:
        channels_form = ChannelsForm(initial={"email_admins": channels.email_admins,
                                              "webhook_url": channels.webhook_url})
    return {
        "access": access, "brand": access.brand, "alerts": brand_alerts(access.brand, tests=True),
        "thresholds_form": thresholds_form, "channels_form": channels_form,
        # The signing secret is for the people who configure the receiver: admins and staff.
        "webhook_secret": channels.webhook_secret if channels is not None else "",
        "signature_header": SIGNATURE_HEADER, "timestamp_header": TIMESTAMP_HEADER,
        "error": error,  # a refusal that is no form's error
    }


def _refused(request: HttpRequest, access: BrandAccess, message: str, **forms) -> HttpResponse:
    """Bad input: the form again with its errors (400 for a full page), nothing changed."""
    if wants_fragment(request):
        response = render_page(request, TEMPLATE, _context(access, **forms), partial="settings")
        return toast(response, message, "error")
    return render_page(request, TEMPLATE, _context(access, **forms), status=400)


def _saved(request: HttpRequest, access: BrandAccess, message: str) -> HttpResponse:
    if wants_fragment(request):
        return toast(render_page(request, TEMPLATE, _context(access), partial="settings"), message)
    messages.success(request, message)
    return redirect("brand-alerts", access.brand.slug)


@brand_view()
@require_GET
def alerts(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    return render_page(request, TEMPLATE, _context(access), partial="settings")


@brand_view()
@require_POST
def alerts_thresholds(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    form = ThresholdsForm(request.POST)
    if not form.is_valid():
        audit_refusal(request, "alerts.thresholds", "alerts", form_errors(form))
        return _refused(request, access, "Thresholds not saved: " + form_errors(form), thresholds_form=form)
    changed = thresholds_update(brand=access.brand, percents=form.cleaned_data["thresholds"], by=request.user)
    shown = ", ".join(f"{p} %" for p in form.cleaned_data["thresholds"]) or "none (no alerts)"
    return _saved(request, access, f"Thresholds {'saved' if changed else 'unchanged'}: {shown}.")


@brand_view()
@require_POST
def alerts_channels(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    form = ChannelsForm(request.POST)
    if not form.is_valid():
        audit_refusal(request, "alerts.channels", "alerts", form_errors(form))
        return _refused(request, access, "Channels not saved: " + form_errors(form), channels_form=form)
    changed = channels_update(brand=access.brand, email_admins=form.cleaned_data["email_admins"],
                              webhook_url=form.cleaned_data["webhook_url"], by=request.user)
    return _saved(request, access, "Channels saved." if changed else "Channels unchanged.")


@brand_view()
@require_POST
def alerts_secret(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    webhook_secret_rotate(brand=access.brand, by=request.user)
    return _saved(request, access, "New webhook secret made: update your receiver; the old one no longer "
                                   "verifies.")


@brand_view()
@require_POST
def alerts_test(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    try:
        webhook_test_send(brand=access.brand, by=request.user)
    except NoWebhook as exc:
        audit_refusal(request, "alerts.test", "alerts", str(exc))
        return _refused(request, access, str(exc), error=str(exc))
    return _saved(request, access, "Test webhook sent: its outcome is under Latest alerts (reload in a few "
                                   "seconds).")


@staff_required
@require_GET
def alert_deliveries(request: HttpRequest) -> HttpResponse:
    """Staff: every alert delivery with each attempt (status or error, next retry), filterable."""
    brand = request.GET.get("brand", "").strip()[:50]
    state = request.GET.get("state", "")
    channel = request.GET.get("channel", "")
    page = delivery_log(brand_slug=brand, state=state, channel=channel, page=request.GET.get("page", 1))
    filters = {k: v for k, v in {"brand": brand, "state": state, "channel": channel}.items() if v}
    context = {"page": page, "brand_filter": brand, "state_filter": state, "channel_filter": channel,
               "states": STATES, "channels": CHANNELS, "filter_query": urlencode(filters)}
    return render_page(request, "staff/alert_deliveries.html", context)

