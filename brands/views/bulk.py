"""Bulk actions on a brand's keys: delete by prefix (count first, then confirm), export and
import JSON lines. Every change is audited, refused attempts included."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from brands.access import BrandAccess, brand_view
from brands.cache import BrandCache
from brands.forms import ImportForm, PrefixForm
from brands.views._audit import audit, audit_refusal, form_errors
from brands.views._htmx import render_page, toast, wants_fragment

IMPORT_REFUSALS_SHOWN = 200
TEMPLATE = "brands/keys_bulk.html"


def _cache(access: BrandAccess) -> BrandCache:
    return BrandCache.for_brand(access.brand, raise_unavailable=True)


@brand_view()
@require_GET
def keys_bulk(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    return render_page(request, TEMPLATE, {"access": access, "brand": access.brand,
                                           "prefix_form": PrefixForm(), "import_form": ImportForm()})


@brand_view()
@require_http_methods(["GET", "POST"])
def bulk_delete(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    """GET: how many keys a prefix holds (the confirmation step). POST: delete them."""
    cache = _cache(access)
    form = PrefixForm(request.GET if request.method == "GET" else request.POST)
    context = {"access": access, "brand": access.brand, "prefix_form": form, "import_form": ImportForm()}
    if not form.is_valid():
        if request.method == "POST":
            audit_refusal(request, "bulk.delete_prefix", request.POST.get("prefix", ""), form_errors(form))
        return render_page(request, TEMPLATE, context, partial="delete-step")

    prefix = form.cleaned_data["prefix"]
    if request.method == "GET":
        context.update(prefix=prefix, count=cache.count_prefix(prefix), confirm=True)
        return render_page(request, TEMPLATE, context, partial="delete-step")

    deleted = cache.delete_prefix(prefix)
    audit(request, "bulk.delete_prefix", prefix, detail=f"{deleted} keys deleted")
    shown = f"under {prefix}" if prefix else "in the brand"
    message = f"Deleted {deleted} key{'s' if deleted != 1 else ''} {shown}."
    if wants_fragment(request):
        context.update(prefix=prefix, deleted=deleted, message=message)
        response = render_page(request, TEMPLATE, context, partial="delete-step")
        return toast(response, message, usage_changed=True)
    messages.success(request, message)
    return redirect("keys-bulk", access.brand.slug)


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
    context = {"access": access, "brand": access.brand, "prefix_form": PrefixForm(), "import_form": form}
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
