"""The brand's audit log: every change made from the dashboard (and the console), newest first,
filtered by action, user, key or prefix and date, exported as CSV, each change to a key with its
diff and a "restore" that undoes it (brands.undo)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from brands.access import BrandAccess, brand_view
from brands.audit import AuditFilter, DiffLine, audit_choices, audit_csv, audit_entries, value_diff
from brands.cache import BrandCache
from brands.models import AuditEntry
from brands.undo import not_restorable, restore_entry
from brands.views._htmx import render_page

PER_PAGE = 50


@dataclass(frozen=True)
class AuditRow:
    entry: AuditEntry
    diff: list[DiffLine]
    restore_refused: str | None  # why "restore" is not offered (None: it is)
    open: bool = False            # the page's newest change with a diff shows it opened

    @property
    def has_states(self) -> bool:
        e = self.entry
        states = (e.before_value, e.after_value, e.before_expires_at, e.after_expires_at)
        return any(state is not None for state in states)


def _rows(entries) -> list[AuditRow]:
    rows = []
    opened = False
    for entry in entries:
        diff = value_diff(entry.before_value, entry.after_value) if entry.action.startswith("key.") else []
        rows.append(AuditRow(entry, diff, not_restorable(entry), open=bool(diff) and not opened))
        opened = opened or bool(diff)
    return rows


def _action_choices(actions: list[str]) -> list[tuple[str, str]]:
    """The actions in the log, each family with more than one ("key", "bulk") first as a whole."""
    choices: list[tuple[str, str]] = []
    for family in sorted({action.split(".", 1)[0] for action in actions}):
        members = [action for action in actions if action.split(".", 1)[0] == family]
        if len(members) > 1:
            choices.append((family, f"{family}.* (all)"))
        choices.extend((action, action) for action in members)
    return choices


@brand_view()
@require_GET
def audit_log(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    audit_filter = AuditFilter.from_params(request.GET)
    entries = audit_entries(access.brand, audit_filter)
    base = reverse("audit", args=[access.brand.slug])
    if request.GET.get("format") == "csv":
        response = StreamingHttpResponse(audit_csv(entries), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="{access.brand.slug}-audit-{stamp}.csv"'
        return response
    page = Paginator(entries, PER_PAGE).get_page(request.GET.get("page"))
    actions, users = audit_choices(access.brand)
    params = audit_filter.params()
    context = {
        "access": access,
        "brand": access.brand,
        "page": page,
        "rows": _rows(page.object_list),
        "filter": audit_filter,
        "action_choices": _action_choices(actions),
        "users": users,
        "csv_href": f"{base}?{urlencode({**params, 'format': 'csv'})}",
        "page_query": urlencode(params),
        "here": f"{base}?{urlencode({**params, 'page': page.number})}",
    }
    return render_page(request, "brands/audit.html", context, partial="table")


@brand_view()
@require_POST
def audit_restore(request: HttpRequest, access: BrandAccess, entry_id: int) -> HttpResponse:
    """Undo one entry (a change to a key, or a bulk delete within its window); the outcome is a
    message on the page the request came from (``next``), the audit log by default."""
    entry = get_object_or_404(AuditEntry.objects.select_related("brand__quota"), brand=access.brand,
                              pk=entry_id)
    outcome = restore_entry(entry, user=request.user,
                            cache=BrandCache.for_brand(access.brand, raise_unavailable=True))
    (messages.success if outcome.ok else messages.error)(request, outcome.message)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = reverse("audit", args=[access.brand.slug])
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)

