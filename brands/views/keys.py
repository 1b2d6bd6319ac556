"""The key browser, the key page, key creation and the bulk actions of one brand.

Views parse, call the cache service and render. Every read and write goes through BrandCache
(with raise_unavailable=True: a dead Redis becomes the 503 page, see brands.middleware); every
change is recorded with audit_record, refused attempts included.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from brands.access import BrandAccess, brand_view
from brands.audit import audit_record
from brands.cache import BrandCache, CacheKeyError, NotANumberError
from brands.cache.validation import is_valid_key
from brands.forms import ImportForm, IncrementForm, KeyCreateForm, KeyValueForm, PrefixForm

PAGE_SIZE = 50
TREE_LIMIT = 200
IMPORT_REFUSALS_SHOWN = 200


def _cache(access: BrandAccess) -> BrandCache:
    return BrandCache(access.brand, raise_unavailable=True)


def _partial(request: HttpRequest) -> bool:
    """An htmx request wants a fragment; a history restore (back button after the page's cache
    was dropped) wants the whole page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def _toast(response: HttpResponse, message: str, level: str = "ok", *, usage: bool = False) -> HttpResponse:
    trigger_client_event(response, "toast", {"message": message, "level": level})
    if usage:
        # The brand header's usage bar listens for this and reloads itself.
        trigger_client_event(response, "usage-changed", {})
    return response


def _refusal(cache: BrandCache, fallback: str) -> str:
    return "; ".join(cache.warnings) or fallback


def _form_errors(form) -> str:
    return "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())


def _namespace_of(key: str) -> str:
    """The namespace a key sits in ("user:42:" for "user:42:name"), for the back link."""
    return key.rsplit(":", 1)[0] + ":" if ":" in key else ""


# ---------------------------------------------------------------------------- browser


@brand_view()
@require_GET
def key_browser(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    cache = _cache(access)
    base = {"access": access, "brand": access.brand}
    if request.GET.get("part") == "tree":
        namespace = request.GET.get("ns", "")
        try:
            nodes = cache.namespace_tree(namespace, limit=TREE_LIMIT)
        except CacheKeyError:
            nodes = []
        return render(
            request,
            "brands/keys.html#tree-nodes",
            {**base, "nodes": nodes, "nodes_truncated": len(nodes) >= TREE_LIMIT},
        )

    prefix = request.GET.get("prefix", "").strip()
    after = request.GET.get("after") or None
    page = cache.list_keys(prefix=prefix, after=after, limit=PAGE_SIZE)
    context = {
        **base,
        "prefix": prefix,
        "prefix_valid": not prefix or is_valid_key(prefix),
        "page": page,
        "after": after,
    }
    if request.htmx and request.GET.get("part") == "rows":
        return render(request, "brands/keys.html#rows", context)
    if prefix:
        context["prefix_count"] = cache.count_prefix(prefix)
    if _partial(request):
        return render(request, "brands/keys.html#results", context)
    nodes = cache.namespace_tree("", limit=TREE_LIMIT)
    context.update(nodes=nodes, nodes_truncated=len(nodes) >= TREE_LIMIT)
    return render(request, "brands/keys.html", context)


@brand_view()
@require_GET
def usage_bar(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    """The brand header's usage bar alone, reloaded after a change (event "usage-changed")."""
    return render(request, "brands/brand_base.html#usage", {"access": access, "brand": access.brand})


# ---------------------------------------------------------------------------- one key


def _render_key(request, access, cache, key, *, info=None, form=None, increment_form=None, status=200):
    info = info if info is not None else cache.key_info(key)
    if info is None and form is None and increment_form is None:
        return render(
            request,
            "brands/key_missing.html",
            {"access": access, "brand": access.brand, "key": key},
            status=404,
        )
    if form is None:
        initial = {"ttl": cache.limits.default_ttl}
        if info is not None:
            initial["value"] = json.dumps(info.value, indent=2, ensure_ascii=False)
        form = KeyValueForm(initial=initial, limits=cache.limits)
    if increment_form is None:
        increment_form = IncrementForm(limits=cache.limits)
    context = {
        "access": access,
        "brand": access.brand,
        "key": key,
        "info": info,
        "pretty": json.dumps(info.value, indent=2, ensure_ascii=False) if info else "",
        "form": form,
        "increment_form": increment_form,
        "limits": cache.limits,
        "namespace": _namespace_of(key),
    }
    template = "brands/key_detail.html#panel" if _partial(request) else "brands/key_detail.html"
    return render(request, template, context, status=status)


@brand_view()
@require_http_methods(["GET", "POST"])
def key_detail(request: HttpRequest, access: BrandAccess, key: str) -> HttpResponse:
    cache = _cache(access)
    if request.method == "GET":
        return _render_key(request, access, cache, key)

    form = KeyValueForm(request.POST, limits=cache.limits)
    if not form.is_valid():
        audit_record(brand=access.brand, user=request.user, action="key.update", target=key,
                     outcome="refused", detail=_form_errors(form))
        return _render_key(request, access, cache, key, form=form)
    if not cache.set(key, form.cleaned_data["value"], form.cleaned_data["ttl"]):
        reason = _refusal(cache, "the cache refused the write")
        form.add_error(None, reason)
        audit_record(brand=access.brand, user=request.user, action="key.update", target=key,
                     outcome="refused", detail=reason)
        return _render_key(request, access, cache, key, form=form)

    audit_record(brand=access.brand, user=request.user, action="key.update", target=key,
                 detail=f"{len(form.value_json.encode())} bytes, TTL {form.cleaned_data['ttl']} s")
    if _partial(request):
        return _toast(_render_key(request, access, cache, key), f"Saved {key}.")
    messages.success(request, f"Saved {key}.")
    return redirect("key-detail", access.brand.slug, key)


@brand_view()
@require_POST
def key_delete(request: HttpRequest, access: BrandAccess, key: str) -> HttpResponse:
    cache = _cache(access)
    cache.delete(key)
    audit_record(brand=access.brand, user=request.user, action="key.delete", target=key)
    if _partial(request):
        response = render(
            request,
            "brands/key_detail.html#deleted",
            {"access": access, "brand": access.brand, "key": key, "namespace": _namespace_of(key)},
        )
        return _toast(response, f"Deleted {key}.", usage=True)
    messages.success(request, f"Deleted {key}.")
    url = reverse("keys", args=[access.brand.slug])
    namespace = _namespace_of(key)
    return redirect(f"{url}?prefix={namespace}" if namespace else url)


@brand_view()
@require_POST
def key_increment(request: HttpRequest, access: BrandAccess, key: str) -> HttpResponse:
    cache = _cache(access)
    form = IncrementForm(request.POST, limits=cache.limits)
    result = None
    if form.is_valid():
        try:
            result = cache.increment(key, form.cleaned_data["amount"], form.cleaned_data["ttl"])
        except NotANumberError as exc:
            form.add_error("amount", str(exc))
        else:
            if result is None:
                form.add_error(None, _refusal(cache, "the cache refused the increment"))
    if result is None:
        audit_record(brand=access.brand, user=request.user, action="key.increment", target=key,
                     outcome="refused", detail=_form_errors(form))
        return _render_key(request, access, cache, key, increment_form=form)

    audit_record(brand=access.brand, user=request.user, action="key.increment", target=key,
                 detail=f"by {form.cleaned_data['amount']:g}, now {result}")
    if _partial(request):
        return _toast(_render_key(request, access, cache, key), f"{key} is now {result}.", usage=True)
    messages.success(request, f"{key} is now {result}.")
    return redirect("key-detail", access.brand.slug, key)


@brand_view()
@require_http_methods(["GET", "POST"])
def key_create(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    cache = _cache(access)
    if request.method == "GET":
        # Viewers get the page without the form (it says why), like every other brand page.
        form = KeyCreateForm(
            initial={"key": request.GET.get("key", ""), "ttl": cache.limits.default_ttl, "value": ""},
            limits=cache.limits,
        )
        return _render_create(request, access, form)

    form = KeyCreateForm(request.POST, limits=cache.limits)
    target = request.POST.get("key", "")
    if not form.is_valid():
        audit_record(brand=access.brand, user=request.user, action="key.create", target=target,
                     outcome="refused", detail=_form_errors(form))
        return _render_create(request, access, form)
    key = form.cleaned_data["key"]
    # Creating never overwrites: an existing key is edited on its own page.
    if not cache.set_if_absent(key, form.cleaned_data["value"], form.cleaned_data["ttl"]):
        reason = _refusal(cache, f"a key named {key} already exists")
        form.add_error("key" if not cache.warnings else None, reason)
        audit_record(brand=access.brand, user=request.user, action="key.create", target=key,
                     outcome="refused", detail=reason)
        return _render_create(request, access, form, existing=key if not cache.warnings else None)

    audit_record(brand=access.brand, user=request.user, action="key.create", target=key,
                 detail=f"{len(form.value_json.encode())} bytes, TTL {form.cleaned_data['ttl']} s")
    messages.success(request, f"Created {key}.")
    url = reverse("key-detail", args=[access.brand.slug, key])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _render_create(request, access, form, *, existing: str | None = None) -> HttpResponse:
    context = {"access": access, "brand": access.brand, "form": form, "existing": existing}
    template = "brands/key_create.html#form" if _partial(request) else "brands/key_create.html"
    return render(request, template, context)


# ---------------------------------------------------------------------------- bulk actions


@brand_view()
@require_GET
def keys_bulk(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    return render(
        request,
        "brands/keys_bulk.html",
        {"access": access, "brand": access.brand, "prefix_form": PrefixForm(), "import_form": ImportForm()},
    )


@brand_view()
@require_http_methods(["GET", "POST"])
def bulk_delete(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    """GET: how many keys a prefix holds (the confirmation step). POST: delete them."""
    cache = _cache(access)
    form = PrefixForm(request.GET if request.method == "GET" else request.POST)
    context = {"access": access, "brand": access.brand, "prefix_form": form, "import_form": ImportForm()}
    if not form.is_valid():
        if request.method == "POST":
            audit_record(brand=access.brand, user=request.user, action="bulk.delete_prefix",
                         target=request.POST.get("prefix", ""), outcome="refused",
                         detail=_form_errors(form))
        template = "brands/keys_bulk.html#delete-step" if _partial(request) else "brands/keys_bulk.html"
        return render(request, template, context)

    prefix = form.cleaned_data["prefix"]
    if request.method == "GET":
        context.update(prefix=prefix, count=cache.count_prefix(prefix), confirm=True)
        template = "brands/keys_bulk.html#delete-step" if _partial(request) else "brands/keys_bulk.html"
        return render(request, template, context)

    deleted = cache.delete_prefix(prefix)
    audit_record(brand=access.brand, user=request.user, action="bulk.delete_prefix", target=prefix,
                 detail=f"{deleted} keys deleted")
    shown = f"under {prefix}" if prefix else "in the brand"
    message = f"Deleted {deleted} key{'s' if deleted != 1 else ''} {shown}."
    if _partial(request):
        context.update(prefix=prefix, deleted=deleted, message=message)
        response = render(request, "brands/keys_bulk.html#delete-step", context)
        return _toast(response, message, usage=True)
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
    if form.is_valid():
        upload = form.cleaned_data["file"]
        report = cache.import_lines(upload)
        refused = len(report.refused)
        outcome = "ok" if report.written or not refused else "refused"
        audit_record(brand=access.brand, user=request.user, action="bulk.import", target=upload.name,
                     outcome=outcome, detail=f"{report.written} written, {refused} refused")
        context.update(
            report=report,
            refusals_shown=report.refused[:IMPORT_REFUSALS_SHOWN],
            refusals_hidden=max(refused - IMPORT_REFUSALS_SHOWN, 0),
        )
    template = "brands/keys_bulk.html#import-step" if _partial(request) else "brands/keys_bulk.html"
    response = render(request, template, context)
    if "report" in context and _partial(request):
        level = "ok" if not context["report"].refused else "warn"
        _toast(response, f"Imported {context['report'].written} keys.", level, usage=True)
    return response
