"""Staff pages: the quota monitor over every brand and the quota editor."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import trigger_client_event

from brands.alerts import monitor_alerts
from brands.cache import CacheUnavailable, server_info
from brands.models import Brand
from brands.usage import (
    WARNING_PERCENT,
    MonitorPage,
    MonitorQuery,
    QuotaRow,
    QuotaSettingsForm,
    brands_usage,
    quota_csv,
    quota_page,
    quota_rows,
    quota_settings_update,
    time_left_words,
)
from brands.views._htmx import render_page, toast, wants_fragment

# (field, heading, numeric): numeric columns sort descending first, text ones ascending.
COLUMNS = (
    ("slug", "Brand", False),
    ("live_keys", "Live keys", True),
    ("max_keys", "Limit", True),
    ("percent", "Used", True),
    ("refused_writes", "Refused writes", True),
    ("last_snapshot", "Last snapshot", True),
    ("forecast", "Limit reached", True),
)
# The first click on a column sorts it this way (numeric: descending, text: ascending) unless
# named here: the forecast's useful order is "reaches the limit soonest" first.
FIRST_DIRECTION = {"forecast": "asc"}


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous users go to the log-in page; signed-in non-staff get 403 (the page's existence
    is no secret, unlike a brand's)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("Staff only.")
        return view(request, *args, **kwargs)

    return wrapper


def _columns(query: MonitorQuery) -> list[dict]:
    base = reverse("staff-quotas")
    columns = []
    # The brand column sorts by slug; its "name" link (same cell) by name.
    for field, heading, numeric in (*COLUMNS, ("name", "name", False)):
        active = query.sort == field
        if active:
            next_dir = "asc" if query.direction == "desc" else "desc"
        else:
            next_dir = FIRST_DIRECTION.get(field, "desc" if numeric else "asc")
        columns.append({
            "field": field,
            "heading": heading,
            "numeric": numeric,
            # A new sort starts on the first page.
            "href": f"{base}?{urlencode(query.params(sort=field, dir=next_dir, page=''))}",
            "aria_sort": ("descending" if query.direction == "desc" else "ascending") if active else "",
        })
    return columns


def _pager(query: MonitorQuery, page: MonitorPage) -> dict:
    """Links to the first, previous, next and last pages, keeping the sort and filters."""
    base = reverse("staff-quotas")

    def href(number: int) -> str:
        return f"{base}?{urlencode(query.params(page=number))}"

    last = page.num_pages
    return {
        "number": page.number,
        "num_pages": last,
        "first_index": f"{page.first_index:,}",
        "last_index": f"{page.last_index:,}",
        "total": f"{page.total:,}",
        "first": href(1) if page.number > 1 else "",
        "previous": href(page.number - 1) if page.number > 1 else "",
        "next": href(page.number + 1) if page.number < last else "",
        "last": href(last) if page.number < last else "",
    }


def _uptime(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {rest // 60} min"
    return f"{rest // 60} min {rest % 60} s"


def _table_rows(rows: list[QuotaRow]) -> list[dict]:
    """Rows as ready-to-print strings. With a thousand brands the template engine's per-variable
    cost dominates the request (reverse(), intcomma and date for each cell were two thirds of
    it), so the formatting happens here once, in plain Python; the template still escapes."""
    usage_url = reverse("usage", args=["__slug__"])
    edit_url = reverse("staff-quota-edit", args=["__slug__"])
    brand_url = reverse("staff-brand-edit", args=["__slug__"])
    now = timezone.now()
    table = []
    for row in rows:
        # UTC, labelled; the browser shows it in its own zone (static/js/app.js, <time data-local>).
        taken = row.last_snapshot.astimezone(UTC) if row.last_snapshot else None
        limit_at = row.limit_at.astimezone(UTC) if row.limit_at else None
        table.append({
            "slug": row.slug,
            "name": row.name,
            "active": row.brand.is_active,
            "level": row.usage.level,
            "word": row.usage.word,
            "live": f"{row.live_keys:,}",
            "limit": f"{row.max_keys:,}",
            "percent": row.usage.percent_text,
            "bar": f"{row.usage.bar_percent:.2f}",
            "refused": f"{row.refused_writes:,}",
            "taken_iso": taken.isoformat(timespec="seconds") if taken else "",
            "taken": taken.strftime("%Y-%m-%d %H:%M UTC") if taken else "",
            # A forecast already past (the brand grew slower, or has not been recorded since):
            # said as such, not as "within the hour".
            "limit_words": ("" if not limit_at else time_left_words(limit_at - now) if limit_at > now
                            else "due by the last forecast"),
            "limit_iso": limit_at.isoformat(timespec="seconds") if limit_at else "",
            "limit_at": limit_at.strftime("%Y-%m-%d %H:%M UTC") if limit_at else "",
            # Slugs are [-a-zA-Z0-9_], safe in a path as they are.
            "usage_url": usage_url.replace("__slug__", row.slug),
            "edit_url": edit_url.replace("__slug__", row.slug),
            "brand_url": brand_url.replace("__slug__", row.slug),
        })
    return table


@staff_required
@require_GET
def quotas(request: HttpRequest) -> HttpResponse:
    query = MonitorQuery.from_params(request.GET)
    if request.GET.get("format") == "csv":
        # Every matching brand, not only the page shown.
        response = HttpResponse(quota_csv(quota_rows(query)), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="quotas-{stamp}.csv"'
        return response
    page = quota_page(query)
    columns = _columns(query)
    context = {
        "rows": _table_rows(page.rows),
        "page": page,
        "pager": _pager(query, page),
        "query": query,
        "columns": [col for col in columns if col["field"] != "name"],
        "name_column": columns[-1],
        "csv_href": f"{reverse('staff-quotas')}?{urlencode({**query.params(page=''), 'format': 'csv'})}",
        # After a quota is saved the table reloads itself as it is: same sort, filters and page.
        "table_href": f"{reverse('staff-quotas')}?{urlencode(query.params(page=page.number))}",
        "warning_percent": f"{WARNING_PERCENT:.0f}",
    }
    if wants_fragment(request):
        # Sorting and filtering swap the table only; the Redis panel stays as it is.
        return render(request, "staff/quotas.html#quota-table", context)
    try:
        context["server"] = server_info()
        context["server_uptime"] = _uptime(context["server"].uptime_seconds)
    except CacheUnavailable:
        context["server"] = None
    context["monitor_alerts"] = monitor_alerts()  # its own section: staff/_monitor_alerts.html
    return render_page(request, "staff/quotas.html", context)


@staff_required
@require_http_methods(["GET", "POST"])
def quota_edit(request: HttpRequest, slug: str) -> HttpResponse:
    brand = get_object_or_404(Brand.objects.select_related("quota"), slug=slug)
    try:
        live_keys = brands_usage([brand])[brand.pk].live_keys
    except CacheUnavailable:
        live_keys = None  # the editor says the live count is unknown
    form = QuotaSettingsForm(request.POST or None, instance=brand.quota, live_keys=live_keys)
    if request.method == "POST" and form.is_valid():
        changed = quota_settings_update(form=form, user=request.user)
        text = (f"Quota of {brand.slug} saved ({', '.join(changed)})." if changed
                else f"Quota of {brand.slug} unchanged.")
        if wants_fragment(request):
            # The editor closes (empty swap) and the monitor's table reloads itself on
            # "quotas-changed", keeping the current sort, filters and page.
            response = toast(HttpResponse(""), text)
            return trigger_client_event(response, "quotas-changed", {"slug": brand.slug})
        messages.success(request, text)
        return redirect("staff-quotas")
    # On its own page (not opened in the monitor) the form posts without htmx: there is no
    # monitor for the answer to go to.
    context = {"brand": brand, "form": form, "live_keys": live_keys,
               "standalone": not wants_fragment(request)}
    if wants_fragment(request) and request.method == "GET":
        # The editor opens above the table, perhaps far from the row clicked: move focus into
        # it (htmx focuses an [autofocus] element after the swap).
        form.fields["max_keys"].widget.attrs["autofocus"] = True
    return render_page(request, "staff/quota_edit.html", context, partial="quota-form")
