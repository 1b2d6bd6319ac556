"""Who may do what with the brand named in a URL. Every brand view goes through ``brand_view``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django_htmx.http import trigger_client_event

from brands.audit import audit_record
from brands.models import Brand, Membership
from brands.scripting import refused_result

# The audit action of a refused write, by URL name (views added later fall back to "brand.write").
WRITE_ACTIONS = {
    "key-detail": "key.update",
    "key-create": "key.create",
    "key-delete": "key.delete",
    "key-increment": "key.increment",
    "bulk-delete": "bulk.delete_prefix",
    "keys-import": "bulk.import",
    "console": "script.run",
}


@dataclass(frozen=True)
class BrandAccess:
    brand: Brand
    role: str  # "staff", "admin" or "viewer"

    @property
    def can_write(self) -> bool:
        """Write controls are shown: a writing role, and a brand that is not deactivated."""
        return self.role in {"staff", "admin"} and self.brand.is_active


def accessible_brands(user) -> QuerySet[Brand]:
    """The brands a user may open: staff see every brand, others their memberships."""
    brands = Brand.objects.select_related("quota")
    if user.is_staff:
        return brands
    return brands.filter(memberships__user=user)


def resolve_brand_access(user, slug: str) -> BrandAccess:
    """The user's access to the brand ``slug``; 404 when they have none (or it does not exist),
    so that a forged slug cannot even tell whether the brand exists."""
    if user.is_staff:
        try:
            return BrandAccess(Brand.objects.select_related("quota").get(slug=slug), "staff")
        except Brand.DoesNotExist:
            raise Http404("No such brand") from None
    # One query for a member: the membership with its brand and quota (every brand page pays it).
    membership = (
        Membership.objects.filter(user=user, brand__slug=slug).select_related("brand__quota").first()
    )
    if membership is None:
        raise Http404("No such brand")
    return BrandAccess(membership.brand, membership.role)


def brand_view(*, write_methods: frozenset[str] = frozenset({"POST", "PUT", "PATCH", "DELETE"})):
    """Decorate a view taking ``slug``: log-in required, brand resolved from the URL and the
    user's membership (404 for non-members), writes (POST by default) refused with 403 for
    viewers. The view receives ``access`` (a BrandAccess) instead of ``slug``."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, slug: str, *args, **kwargs) -> HttpResponse:
            access = resolve_brand_access(request.user, slug)
            request.brand_access = access
            if request.method in write_methods:
                if access.role == "viewer":
                    raise PermissionDenied("Viewers cannot change this brand.")
                refusal = access.brand.write_refusal()
                if refusal is not None:
                    return _refuse_write(request, access, refusal)
            return view(request, access, *args, **kwargs)

        return wrapper

    return decorator


def _refuse_write(request: HttpRequest, access: BrandAccess, reason: str) -> HttpResponse:
    """A write to a deactivated brand: audited as refused, answered 403 with the reason (a
    page, a toast for htmx, JSON for a JSON client)."""
    match = request.resolver_match
    action = WRITE_ACTIONS.get(match.url_name if match else "", "brand.write")
    target = str(match.kwargs.get("key", "")) if match else ""
    audit_record(brand=access.brand, user=request.user, action=action, target=target or request.path,
                 outcome="refused", detail=reason)
    accept = request.headers.get("Accept", "")
    if "application/json" in accept and not request.headers.get("HX-Request"):
        return JsonResponse(refused_result(access.brand.quota, reason), status=403)
    response = render(request, "brands/read_only.html", {"access": access, "brand": access.brand,
                                                          "reason": reason}, status=403)
    if request.headers.get("HX-Request"):
        trigger_client_event(response, "toast", {"message": reason, "level": "error"})
    return response
