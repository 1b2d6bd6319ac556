"""One key of a brand: its page (value, TTL, increment, delete) and creating a key.

Every change is audited, refused attempts included; forms check the contract's rules before the
service is called, and the service's own refusals (key limit, size) come back as form errors.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from brands.access import BrandAccess, brand_view
from brands.cache import BrandCache, CacheValueError, NotANumberError
from brands.forms import IncrementForm, KeyCreateForm, KeyValueForm
from brands.views._audit import audit, audit_refusal, form_errors
from brands.views._htmx import render_page, toast, wants_fragment


def _cache(access: BrandAccess) -> BrandCache:
    return BrandCache.for_brand(access.brand, raise_unavailable=True)


def _refusal(cache: BrandCache, fallback: str) -> str:
    return "; ".join(cache.warnings) or fallback


def namespace_of(key: str) -> str:
    """The namespace a key sits in ("user:42:" for "user:42:name"), for the back link."""
    return key.rsplit(":", 1)[0] + ":" if ":" in key else ""


def _render_key(request, access, cache, key, *, form=None, increment_form=None):
    info = cache.key_info(key)
    if info is None and form is None and increment_form is None:
        return render_page(request, "brands/key_missing.html",
                           {"access": access, "brand": access.brand, "key": key}, status=404)
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
        "namespace": namespace_of(key),
    }
    return render_page(request, "brands/key_detail.html", context, partial="panel")


@brand_view()
@require_http_methods(["GET", "POST"])
def key_detail(request: HttpRequest, access: BrandAccess, key: str) -> HttpResponse:
    cache = _cache(access)
    if request.method == "GET":
        return _render_key(request, access, cache, key)

    form = KeyValueForm(request.POST, limits=cache.limits)
    if not form.is_valid():
        audit_refusal(request, "key.update", key, form_errors(form))
        return _render_key(request, access, cache, key, form=form)
    if not cache.set(key, form.cleaned_data["value"], form.cleaned_data["ttl"]):
        reason = _refusal(cache, "the cache refused the write")
        form.add_error(None, reason)
        audit_refusal(request, "key.update", key, reason)
        return _render_key(request, access, cache, key, form=form)

    audit(request, "key.update", key,
          detail=f"{len(form.value_json.encode())} bytes, TTL {form.cleaned_data['ttl']} s")
    if wants_fragment(request):
        return toast(_render_key(request, access, cache, key), f"Saved {key}.")
    messages.success(request, f"Saved {key}.")
    return redirect("key-detail", access.brand.slug, key)


@brand_view()
@require_POST
def key_delete(request: HttpRequest, access: BrandAccess, key: str) -> HttpResponse:
    cache = _cache(access)
    cache.delete(key)
    audit(request, "key.delete", key)
    if wants_fragment(request):
        context = {"access": access, "brand": access.brand, "key": key, "namespace": namespace_of(key)}
        response = render_page(request, "brands/key_detail.html", context, partial="deleted")
        return toast(response, f"Deleted {key}.", usage_changed=True)
    messages.success(request, f"Deleted {key}.")
    url = reverse("keys", args=[access.brand.slug])
    namespace = namespace_of(key)
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
        except CacheValueError as exc:  # the result would not be a finite number
            form.add_error("amount", str(exc))
        else:
            if result is None:
                form.add_error(None, _refusal(cache, "the cache refused the increment"))
    if result is None:
        audit_refusal(request, "key.increment", key, form_errors(form))
        return _render_key(request, access, cache, key, increment_form=form)

    audit(request, "key.increment", key, detail=f"by {form.cleaned_data['amount']:g}, now {result}")
    if wants_fragment(request):
        return toast(_render_key(request, access, cache, key), f"{key} is now {result}.", usage_changed=True)
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
    if not form.is_valid():
        audit_refusal(request, "key.create", request.POST.get("key", ""), form_errors(form))
        return _render_create(request, access, form)
    key = form.cleaned_data["key"]
    # Creating never overwrites: an existing key is edited on its own page.
    if not cache.set_if_absent(key, form.cleaned_data["value"], form.cleaned_data["ttl"]):
        reason = _refusal(cache, f"a key named {key} already exists")
        form.add_error("key" if not cache.warnings else None, reason)
        audit_refusal(request, "key.create", key, reason)
        return _render_create(request, access, form, existing=key if not cache.warnings else None)

    audit(request, "key.create", key,
          detail=f"{len(form.value_json.encode())} bytes, TTL {form.cleaned_data['ttl']} s")
    messages.success(request, f"Created {key}.")
    url = reverse("key-detail", args=[access.brand.slug, key])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _render_create(request, access, form, *, existing: str | None = None) -> HttpResponse:
    context = {"access": access, "brand": access.brand, "form": form, "existing": existing}
    return render_page(request, "brands/key_create.html", context, partial="form")
