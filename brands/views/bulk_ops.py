"""Bulk changes to the keys under a prefix: delete, set the TTL, copy or rename. Each has a dry
run (GET: how many keys, a sample of what changes, what would be refused; nothing is written)
and is applied by a POST that carries what the dry run counted: when the keys changed in between,
nothing is applied and the new dry run is shown instead. Bulk deletes keep what they deleted for
settings.BULK_UNDO_SECONDS, so they can be undone from the report or the audit log. Every change
is audited, refused attempts included."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from brands.access import BrandAccess, brand_view
from brands.alerts import alerts_after_writes
from brands.cache import BrandCache, BulkReport
from brands.forms import BulkCopyForm, BulkTTLForm, PrefixForm
from brands.views._audit import audit, audit_refusal, form_errors
from brands.views._htmx import render_page, toast, wants_fragment
from brands.views.bulk import page_context

TEMPLATE = "brands/keys_bulk.html"


def _cache(access: BrandAccess) -> BrandCache:
    return BrandCache.for_brand(access.brand, raise_unavailable=True)


def _fields(form) -> list[tuple[str, str]]:
    """A valid dry-run form's values as the hidden fields of its "apply" form."""
    fields = []
    for name, value in form.cleaned_data.items():
        if value is True:
            fields.append((name, "on"))
        elif value not in (False, None):
            fields.append((name, str(value)))
    return fields


def _expected(request: HttpRequest) -> int | None:
    try:
        return int(request.POST.get("expected", ""))
    except ValueError:
        return None


def _refused_text(report: BulkReport) -> str:
    return ", ".join(f"{count} {reason.text}" for reason, count in report.refused.items())


def _step(request: HttpRequest, access: BrandAccess, partial: str, **context) -> HttpResponse:
    # Each step's report has its own name ("delete-step" -> delete_report), so that a whole page
    # (no htmx) shows it under its own operation only.
    if "report" in context:
        context[partial.replace("-step", "_report")] = context.pop("report")
    return render_page(request, TEMPLATE, {**page_context(access), **context}, partial=partial)


def _done(request, access, partial: str, message: str, level: str = "ok", **context) -> HttpResponse:
    if wants_fragment(request):
        return toast(_step(request, access, partial, message=message, **context), message, level,
                     usage_changed=True)
    (messages.success if level == "ok" else messages.warning)(request, message)
    return redirect("keys-bulk", access.brand.slug)


def _changed_since(request, access, partial: str, form_name: str, form, report: BulkReport) -> HttpResponse:
    """The keys moved on between the dry run and the confirmation: show the new dry run."""
    action = {"delete": "bulk.delete_prefix", "set_ttl": "bulk.set_ttl"}.get(report.operation,
                                                                            f"bulk.{report.operation}")
    audit_refusal(request, action, report.prefix,
                  f"the keys changed since the dry run (it counted {_expected(request)}, now "
                  f"{report.changed}); nothing changed")
    return _step(request, access, partial, **{form_name: form}, report=report, apply_fields=_fields(form),
                 stale=f"The keys changed since the dry run: it counted {_expected(request)}, now "
                       f"{report.changed}. Nothing was changed; check the new dry run.")


@brand_view()
@require_http_methods(["GET", "POST"])
def bulk_delete(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    """GET: the dry run (how many keys, which). POST: delete them, keeping them for the undo
    window."""
    cache = _cache(access)
    form = PrefixForm(request.GET if request.method == "GET" else request.POST)
    if not form.is_valid():
        if request.method == "POST":
            audit_refusal(request, "bulk.delete_prefix", request.POST.get("prefix", ""), form_errors(form))
        return _step(request, access, "delete-step", prefix_form=form)
    prefix = form.cleaned_data["prefix"]
    preview = cache.bulk_delete(prefix, dry_run=True)
    if request.method == "GET":
        return _step(request, access, "delete-step", prefix_form=form, report=preview,
                     apply_fields=_fields(form))
    if preview.changed != _expected(request):
        return _changed_since(request, access, "delete-step", "prefix_form", form, preview)

    report = cache.bulk_delete(prefix, dry_run=False, keep_seconds=settings.BULK_UNDO_SECONDS)
    until = datetime.fromtimestamp(report.undo_until_ms / 1000, tz=UTC) if report.undo_until_ms else None
    entry = audit(request, "bulk.delete_prefix", prefix,
                  detail=f"{report.changed} keys deleted" + ("; kept for undo" if until else ""),
                  undo_token=report.undo_token, undo_until=until)
    shown = f"under {prefix}" if prefix else "in the brand"
    message = f"Deleted {report.changed} key{'s' if report.changed != 1 else ''} {shown}."
    return _done(request, access, "delete-step", message, prefix_form=form, report=report, undo=entry,
                 undo_until=until)


@brand_view()
@require_http_methods(["GET", "POST"])
def bulk_ttl(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    """GET: the dry run (how many keys, their TTL now and after). POST: set the TTL."""
    cache = _cache(access)
    form = BulkTTLForm(request.GET if request.method == "GET" else request.POST, limits=cache.limits)
    if not form.is_valid():
        if request.method == "POST":
            audit_refusal(request, "bulk.set_ttl", request.POST.get("prefix", ""), form_errors(form))
        return _step(request, access, "ttl-step", ttl_form=form)
    prefix, ttl = form.cleaned_data["prefix"], form.cleaned_data["ttl"]
    preview = cache.bulk_set_ttl(prefix, ttl, dry_run=True)
    if request.method == "GET":
        return _step(request, access, "ttl-step", ttl_form=form, report=preview, apply_fields=_fields(form))
    if preview.changed != _expected(request):
        return _changed_since(request, access, "ttl-step", "ttl_form", form, preview)

    report = cache.bulk_set_ttl(prefix, ttl, dry_run=False)
    refused = _refused_text(report)
    audit(request, "bulk.set_ttl", prefix,
          detail=f"{report.changed} keys: TTL set to {ttl} s"
          + (f"; not changed: {refused}" if refused else ""))
    message = f"Set the TTL of {report.changed} key{'s' if report.changed != 1 else ''} to {ttl} s."
    return _done(request, access, "ttl-step", message, ttl_form=form, report=report)


@brand_view()
@require_http_methods(["GET", "POST"])
def bulk_copy(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    """GET: the dry run (what would be copied or renamed, what would be refused and why). POST:
    do it, key by key, and report."""
    cache = _cache(access)
    form = BulkCopyForm(request.GET if request.method == "GET" else request.POST)
    if not form.is_valid():
        if request.method == "POST":
            action = "bulk.rename" if request.POST.get("operation") == "rename" else "bulk.copy"
            audit_refusal(request, action, request.POST.get("prefix", ""), form_errors(form))
        return _step(request, access, "copy-step", copy_form=form)
    prefix, target = form.cleaned_data["prefix"], form.cleaned_data["target"]
    options = {"move": form.move, "overwrite": form.cleaned_data["overwrite"]}
    preview = cache.bulk_copy(prefix, target, dry_run=True, **options)
    if request.method == "GET":
        return _step(request, access, "copy-step", copy_form=form, report=preview, apply_fields=_fields(form))
    if preview.changed != _expected(request):
        return _changed_since(request, access, "copy-step", "copy_form", form, preview)

    report = cache.bulk_copy(prefix, target, dry_run=False, **options)
    alerts_after_writes(access.brand, refusals=report.refused)
    refused = _refused_text(report)
    verb = "renamed" if form.move else "copied"
    audit(request, f"bulk.{report.operation}", prefix,
          detail=f"to {target or '(no prefix)'}: {report.changed} {verb}"
          + (f"; refused: {refused}" if refused else ""))
    message = (f"{verb.capitalize()} {report.changed} of {report.matched} keys from {prefix} to "
               f"{target or '(no prefix)'}.")
    if refused:
        message += f" Not {verb}: {refused}."
    return _done(request, access, "copy-step", message, "ok" if not refused else "warn", copy_form=form,
                 report=report)
