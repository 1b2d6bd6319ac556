"""Bulk actions on a brand's keys: the page, and export and import of JSON lines (delete, TTL,
copy and rename by prefix, each with a dry run, are in brands.views.bulk_ops). Every change is
audited, refused attempts included."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET, require_POST

from brands.access import BrandAccess, brand_view
from brands.cache import BrandCache, CacheLimits, is_valid_key
from brands.forms import BulkCopyForm, BulkTTLForm, ImportForm, PrefixForm
from brands.views._audit import audit, audit_refusal
from brands.views._htmx import render_page, toast, wants_fragment

IMPORT_REFUSALS_SHOWN = 200
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
            "undo_hours": settings.BULK_UNDO_SECONDS // 3600}


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


@brand_view()
@require_POST
def keys_import(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    cache = _cache(access)
    form = ImportForm(request.POST, request.FILES)
    context = {**page_context(access), "import_form": form}
    report = None
    if form.is_valid():
        upload = form.cleaned_data["file"]
        report = cache.import_lines(upload)
        refused = len(report.refused)
        detail = f"{report.written} written, {refused} refused"
        if report.written or not refused:
            audit(request, "bulk.import", upload.name, detail=detail)
        else:
            audit_refusal(request, "bulk.import", upload.name, detail)
        context.update(
            report=report,
            refusals_shown=report.refused[:IMPORT_REFUSALS_SHOWN],
            refusals_hidden=max(refused - IMPORT_REFUSALS_SHOWN, 0),
        )
    response = render_page(request, TEMPLATE, context, partial="import-step")
    if report is not None and wants_fragment(request):
        toast(response, f"Imported {report.written} keys.", "ok" if not report.refused else "warn",
              usage_changed=True)
    return response
