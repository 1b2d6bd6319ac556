"""Bulk actions on a brand's keys: the page, and export and import of JSON lines (delete, TTL,
copy and rename by prefix, each with a dry run, are in brands.views.bulk_ops). Every change is
audited, refused attempts included."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET, require_POST

from brands.access import BrandAccess, brand_view
from brands.alerts import alerts_after_writes
from brands.cache import (
    IMPORT_POLICIES,
    BrandCache,
    CacheLimits,
    ImportInterrupted,
    ImportReport,
    is_valid_key,
    max_line_bytes,
)
from brands.forms import BulkCopyForm, BulkTTLForm, ImportForm, PrefixForm
from brands.views._audit import audit, audit_refusal, form_errors
from brands.views._htmx import render_page, toast, wants_fragment

TEMPLATE = "brands/keys_bulk.html"


def _cache(access: BrandAccess) -> BrandCache:
    return BrandCache.for_brand(access.brand, raise_unavailable=True)


def page_context(access: BrandAccess, prefix: str = "") -> dict:
    """The bulk page's forms, empty (``prefix`` prefills the prefix fields)."""
    limits = CacheLimits.from_quota(access.brand.quota)
    initial = {"prefix": prefix} if prefix else None
    return {"access": access, "brand": access.brand, "prefix_form": PrefixForm(initial=initial),
            "ttl_form": BulkTTLForm(initial=initial, limits=limits),
            "copy_form": BulkCopyForm(initial=initial), "import_form": ImportForm(),
            "undo_hours": settings.BULK_UNDO_SECONDS // 3600,
            "line_limit": max_line_bytes(access.brand.quota.max_value_bytes)}


@brand_view()
@require_GET
def keys_bulk(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    prefix = request.GET.get("prefix", "").strip()
    return render_page(request, TEMPLATE, page_context(access, prefix if is_valid_key(prefix) else ""))


@brand_view()
@require_GET
def keys_export(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    cache = _cache(access)
    # Ask Redis once before the response starts: once streaming, a dead Redis could only cut
    # the download short, not turn into the 503 page.
    cache.live_count()
    response = StreamingHttpResponse(
        (f"{line}\n" for line in cache.export_lines()), content_type="application/x-ndjson; charset=utf-8"
    )
    filename = f"{access.brand.slug}-keys.jsonl"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def import_summary(report: ImportReport, failure: str | None = None) -> str:
    """One line for the audit log and the page: what the import did (or would do)."""
    verb = "would be written" if report.dry_run else "written"
    parts = [f"{report.written:,} {verb}", f"{report.refused_count:,} refused"]
    if report.skipped:
        parts.append(f"{report.skipped:,} existing skipped")
    if report.clamped:
        parts.append(f"{report.clamped:,} TTLs clamped to the maximum")
    text = ("Dry run, nothing written: " if report.dry_run else "") + ", ".join(parts)
    text += f" ({IMPORT_POLICIES[report.policy]})"
    if report.stopped_at is not None:
        line, key = report.stopped_at
        text += f"; stopped at line {line:,}: key {key} exists"
    if failure:
        where = f" at line {report.interrupted_at:,}" if report.interrupted_at else ""
        text += f"; stopped{where}: {failure}, {report.written:,} lines written before it stopped"
        if report.unconfirmed:
            text += (f"; {report.unconfirmed:,} more lines were sent without an answer and may or "
                     "may not have been written")
    return text


def _audit_import(request: HttpRequest, name: str, report: ImportReport | None, failure: str | None) -> None:
    if report is None:  # failed before the import started
        audit_refusal(request, "bulk.import", name, failure or "the import did not start", outcome="error")
        return
    action = "bulk.import.dry_run" if report.dry_run else "bulk.import"
    detail = import_summary(report, failure)
    if failure:
        audit_refusal(request, action, name, detail, outcome="error")
    elif report.written or not report.refused_count or report.dry_run:
        audit(request, action, name, detail=detail)
    else:
        audit_refusal(request, action, name, detail)


@brand_view()
@require_POST
def keys_import(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    cache = _cache(access)
    form = ImportForm(request.POST, request.FILES)
    context = {**page_context(access), "import_form": form}
    if not form.is_valid():
        upload = request.FILES.get("file")
        audit_refusal(request, "bulk.import", upload.name if upload else "", form_errors(form))
        return render_page(request, TEMPLATE, context, partial="import-step")

    upload = form.cleaned_data["file"]
    report: ImportReport | None = None
    failure: str | None = None
    try:
        upload.seek(0)
        report = cache.import_lines(upload, policy=form.cleaned_data["policy"],
                                    dry_run=form.cleaned_data["dry_run"])
    except ImportInterrupted as exc:
        report, failure = exc.report, "the cache became unavailable"
    except Exception as exc:
        report = getattr(exc, "import_report", None)
        failure = f"an internal error ({type(exc).__name__})"
        raise
    finally:
        # Whatever happened, the audit log says what was written (docs/contract.md#import-and-export).
        _audit_import(request, upload.name, report, failure)

    context.update(report=report, summary=import_summary(report, failure), failure=failure)
    if not report.dry_run:
        alerts_after_writes(access.brand, warnings=[reason for _, _, reason in report.refused])
    if failure:
        status = 200 if wants_fragment(request) else 503
        response = render_page(request, TEMPLATE, context, partial="import-step", status=status)
        return toast(response, f"Import stopped: {failure}.", "error", usage_changed=True)
    response = render_page(request, TEMPLATE, context, partial="import-step")
    if wants_fragment(request):
        if report.dry_run:
            message = f"Dry run: {report.written:,} keys would be written."
        else:
            message = f"Imported {report.written:,} keys."
        toast(response, message, "ok" if not report.refused_count else "warn",
              usage_changed=not report.dry_run)
    return response
