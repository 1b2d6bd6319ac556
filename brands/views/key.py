"""One key of a brand: its page (value, TTL, increment, delete) and creating a key.

Every change carries the version of the key the page showed (value and expiry, see
docs/contract.md#dashboard-use) and the cache refuses it atomically when the key changed, expired
or vanished meanwhile: the page then shows the key as it is now beside the user's change, with
"overwrite" and "discard". Saving keeps the remaining TTL unless a new one is chosen.

Every change is audited with the key before and after, refused attempts included; forms check the
contract's rules before the service is called, and the service's own refusals (key limit, size)
come back as form errors.
"""

from __future__ import annotations

import json
import math

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from brands.access import BrandAccess, brand_view
from brands.alerts import alerts_after_writes
from brands.audit import value_diff
from brands.cache import BrandCache, KeyInfo, NotANumberError, Refusal, readable_json
from brands.forms import IncrementForm, KeyCreateForm, KeyEditForm, VersionForm
from brands.usage import count_form_refusals
from brands.views._audit import audit, audit_refusal, form_errors
from brands.views._htmx import render_page, toast, wants_fragment
from brands.views.keys import list_after_change


def _cache(access: BrandAccess) -> BrandCache:
    return BrandCache.for_brand(access.brand, raise_unavailable=True)


def _refusal(cache: BrandCache, fallback: str) -> str:
    return "; ".join(cache.warnings) or fallback


def namespace_of(key: str) -> str:
    """The namespace a key sits in ("user:42:" for "user:42:name"), for the back link."""
    return key.rsplit(":", 1)[0] + ":" if ":" in key else ""


def pretty(value_json: str) -> str:
    return readable_json(json.loads(value_json))


def _edit_form(info: KeyInfo, cache: BrandCache) -> KeyEditForm:
    remaining = min(max(math.ceil(info.ttl_seconds), 1), cache.limits.max_ttl)
    return KeyEditForm(
        initial={"value": pretty(info.value_json), "ttl_mode": KeyEditForm.KEEP, "ttl": remaining,
                 "version": info.version},
        limits=cache.limits,
    )


def _state_text(info: KeyInfo | None) -> str:
    """A key's state for an audit detail: "12 bytes, 3540 s left"."""
    if info is None:
        return "absent"
    return f"{info.size_bytes} bytes, {int(info.ttl_seconds)} s left"


def _render_key(request, access, cache, key, *, info=None, form=None, increment_form=None,
                conflict=None, status=200):
    if info is None:
        info = cache.key_info(key)
    if info is None and form is None and increment_form is None and conflict is None:
        return render_page(request, "brands/key_missing.html",
                           {"access": access, "brand": access.brand, "key": key}, status=404)
    if form is None and info is not None:
        form = _edit_form(info, cache)
    if increment_form is None:
        increment_form = IncrementForm(initial={"version": info.version if info else ""}, limits=cache.limits)
    context = {
        "access": access,
        "brand": access.brand,
        "key": key,
        "info": info,
        "pretty": pretty(info.value_json) if info else "",
        "form": form,
        "increment_form": increment_form,
        "version": info.version if info else "",
        "limits": cache.limits,
        "namespace": namespace_of(key),
        "conflict": conflict,
    }
    return render_page(request, "brands/key_detail.html", context, partial="panel", status=status)


def _conflict(request, access, cache, key, kind: str, current: KeyInfo | None, *,
              yours_json: str | None = None, post: dict | None = None, amount: float | None = None
              ) -> HttpResponse:
    """The key moved on since the page was opened: show it as it is now beside the user's change,
    with "overwrite" (the same change again, now against the current version) and "discard"."""
    refusal = Refusal.GONE if current is None else Refusal.CHANGED
    audit_refusal(request, f"key.{kind}", key,
                  f"{'deleted or expired' if current is None else 'changed'} since the page was opened "
                  f"(now {_state_text(current)}); nothing written")
    conflict = {
        "kind": kind,
        "gone": refusal is Refusal.GONE,
        "current": current,
        "current_pretty": pretty(current.value_json) if current else "",
        "yours_pretty": pretty(yours_json) if yours_json else "",
        "diff": value_diff(current.value_json if current else None, yours_json) if yours_json else [],
        "post": post or {},
        "amount": amount,
    }
    response = _render_key(request, access, cache, key, info=current, conflict=conflict)
    return toast(response, f"{key} changed since you opened it: nothing was written." if current else
                 f"{key} was deleted or has expired since you opened it: nothing was written.", "warn")


def _saved(request, access, cache, key, message: str, *, usage_changed: bool = False) -> HttpResponse:
    if wants_fragment(request):
        return toast(_render_key(request, access, cache, key), message, usage_changed=usage_changed)
    messages.success(request, message)
    return redirect("key-detail", access.brand.slug, key)


@brand_view()
@require_http_methods(["GET", "POST"])
def key_detail(request: HttpRequest, access: BrandAccess, key: str) -> HttpResponse:
    cache = _cache(access)
    if request.method == "GET":
        return _render_key(request, access, cache, key)

    form = KeyEditForm(request.POST, limits=cache.limits)
    if not form.is_valid():
        count_form_refusals(cache, form)
        audit_refusal(request, "key.update", key, form_errors(form))
        return _render_key(request, access, cache, key, form=form)
    version = form.cleaned_data["version"]
    post = {name: request.POST.get(name, "") for name in ("value", "ttl_mode", "ttl", "version")}
    if request.POST.get("recreate"):
        return _recreate(request, access, cache, key, form, post)

    before = cache.key_info(key)
    if before is None or before.version != version:
        return _conflict(request, access, cache, key, "update", before, yours_json=form.value_json, post=post)
    result = cache.set_versioned(key, form.cleaned_data["value"], version=version, ttl=form.new_ttl)
    if result.refusal in (Refusal.CHANGED, Refusal.GONE):  # changed between the read and the write
        return _conflict(request, access, cache, key, "update", cache.key_info(key),
                         yours_json=form.value_json, post=post)
    if not result.ok:
        reason = _refusal(cache, "the cache refused the write")
        form.add_error(None, reason)
        audit_refusal(request, "key.update", key, reason)
        return _render_key(request, access, cache, key, form=form)

    ttl_text = "TTL kept" if form.new_ttl is None else f"TTL set to {form.new_ttl} s"
    audit(request, "key.update", key, detail=f"{len(form.value_json.encode())} bytes, {ttl_text}",
          before=before, after=result)
    return _saved(request, access, cache, key, f"Saved {key}.")


def _recreate(request, access, cache, key, form: KeyEditForm, post: dict) -> HttpResponse:
    """"Create it again with my value" after the key vanished: never overwrites (a key created
    meanwhile is a new conflict); keeping the TTL means the expiry the user saw, if it is still
    ahead."""
    value = form.cleaned_data["value"]
    if form.new_ttl is not None:
        created = cache.set_if_absent(key, value, form.new_ttl)
        result = cache.key_info(key) if created else None
        refusal = None if created else (Refusal.KEY_LIMIT if cache.warnings else Refusal.EXISTS)
    else:
        seen_expiry = form.cleaned_data["version"].partition(":")[0]
        expiry = int(seen_expiry) if seen_expiry.isdigit() else 0
        outcome = cache.restore_key(key, form.value_json, expiry)
        refusal, result = outcome.refusal, outcome
    alerts_after_writes(access.brand, warnings=cache.warnings, refusals=[refusal])
    if refusal is Refusal.EXISTS:
        return _conflict(request, access, cache, key, "update", cache.key_info(key),
                         yours_json=form.value_json, post=post)
    if refusal is not None:
        reason = {
            Refusal.EXPIRED: "its old expiry has passed: choose a new TTL to create it again",
            Refusal.KEY_LIMIT: _refusal(cache, f"the key limit of {cache.limits.max_keys} keys is reached"),
        }.get(refusal, _refusal(cache, "the cache refused the write"))
        audit_refusal(request, "key.create", key, reason)
        conflict = {"kind": "update", "gone": True, "current": None, "yours_pretty": pretty(form.value_json),
                    "current_pretty": "", "diff": [], "post": post, "amount": None,
                    "error": f"Not created: {reason}."}
        return _render_key(request, access, cache, key, conflict=conflict)
    audit(request, "key.create", key,
          detail=f"created again after it vanished; {_state_text(cache.key_info(key))}", after=result)
    return _saved(request, access, cache, key, f"Created {key} again.", usage_changed=True)


@brand_view()
@require_POST
def key_delete(request: HttpRequest, access: BrandAccess, key: str) -> HttpResponse:
    cache = _cache(access)
    from_list = request.POST.get("from") == "list"
    form = VersionForm(request.POST)
    if not form.is_valid():
        audit_refusal(request, "key.delete", key, form_errors(form))
        if from_list:
            return toast(list_after_change(request, access, cache), form.errors["version"][0], "error")
        response = _render_key(request, access, cache, key)
        return toast(response, form.errors["version"][0], "error")
    version = form.cleaned_data["version"]
    before = cache.key_info(key)
    result = cache.delete_versioned(key, version=version) if before is not None else None
    if result is None or not result.ok:
        current = cache.key_info(key)
        if from_list:
            audit_refusal(request, "key.delete", key,
                          f"{'changed' if current else 'deleted or expired'} since the list was loaded; "
                          "nothing deleted")
            text = (f"{key} changed since the list was loaded: not deleted. Open it to review the change."
                    if current else f"{key} was already deleted or has expired.")
            return toast(list_after_change(request, access, cache), text, "warn", usage_changed=True)
        return _conflict(request, access, cache, key, "delete", current)

    entry = audit(request, "key.delete", key, detail=_state_text(before), before=before)
    message = f"Deleted {key}."
    if from_list:
        return toast(list_after_change(request, access, cache, deleted=key, undo=entry), message,
                     usage_changed=True)
    if wants_fragment(request):
        context = {"access": access, "brand": access.brand, "key": key, "namespace": namespace_of(key),
                   "undo": entry}
        response = render_page(request, "brands/key_detail.html", context, partial="deleted")
        return toast(response, message, usage_changed=True)
    messages.success(request, message)
    url = reverse("keys", args=[access.brand.slug])
    namespace = namespace_of(key)
    return redirect(f"{url}?prefix={namespace}" if namespace else url)


@brand_view()
@require_POST
def key_increment(request: HttpRequest, access: BrandAccess, key: str) -> HttpResponse:
    cache = _cache(access)
    form = IncrementForm(request.POST, limits=cache.limits)
    if not form.is_valid():
        audit_refusal(request, "key.increment", key, form_errors(form))
        return _render_key(request, access, cache, key, increment_form=form)
    amount, version = form.cleaned_data["amount"], form.cleaned_data["version"]
    before = cache.key_info(key)
    if before is None or before.version != version:
        return _conflict(request, access, cache, key, "increment", before, amount=amount)
    try:
        result = cache.increment_versioned(key, amount, version=version, ttl=form.cleaned_data["ttl"])
    except (NotANumberError, TypeError) as exc:
        form.add_error("amount", str(exc))
        audit_refusal(request, "key.increment", key, form_errors(form))
        return _render_key(request, access, cache, key, increment_form=form)
    if result.refusal in (Refusal.CHANGED, Refusal.GONE):
        return _conflict(request, access, cache, key, "increment", cache.key_info(key), amount=amount)
    if not result.ok:
        form.add_error(None, _refusal(cache, "the cache refused the increment"))
        audit_refusal(request, "key.increment", key, form_errors(form))
        return _render_key(request, access, cache, key, increment_form=form)

    audit(request, "key.increment", key, detail=f"by {amount:g}, now {result.value_json}",
          before=before, after=result)
    return _saved(request, access, cache, key, f"{key} is now {result.value_json}.", usage_changed=True)


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
        count_form_refusals(cache, form)
        audit_refusal(request, "key.create", request.POST.get("key", ""), form_errors(form))
        return _render_create(request, access, form)
    key = form.cleaned_data["key"]
    # Creating never overwrites: an existing key is edited on its own page.
    if not cache.set_if_absent(key, form.cleaned_data["value"], form.cleaned_data["ttl"]):
        reason = _refusal(cache, f"a key named {key} already exists")
        alerts_after_writes(access.brand, warnings=cache.warnings)
        form.add_error("key" if not cache.warnings else None, reason)
        audit_refusal(request, "key.create", key, reason)
        return _render_create(request, access, form, existing=key if not cache.warnings else None)

    audit(request, "key.create", key,
          detail=f"{len(form.value_json.encode())} bytes, TTL {form.cleaned_data['ttl']} s",
          after=cache.key_info(key))
    messages.success(request, f"Created {key}.")
    url = reverse("key-detail", args=[access.brand.slug, key])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _render_create(request, access, form, *, existing: str | None = None) -> HttpResponse:
    context = {"access": access, "brand": access.brand, "form": form, "existing": existing}
    return render_page(request, "brands/key_create.html", context, partial="form")
