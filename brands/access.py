"""Who may do what with the brand named in a URL. Every brand view goes through ``brand_view``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from brands.models import Brand, Membership


@dataclass(frozen=True)
class BrandAccess:
    brand: Brand
    role: str  # "staff", "admin" or "viewer"

    @property
    def can_write(self) -> bool:
        return self.role in {"staff", "admin"}


def accessible_brands(user) -> QuerySet[Brand]:
    """The brands a user may open: staff see every brand, others their memberships."""
    brands = Brand.objects.select_related("quota")
    if user.is_staff:
        return brands
    return brands.filter(memberships__user=user)


def resolve_brand_access(user, slug: str) -> BrandAccess:
    """The user's access to the brand ``slug``; 404 when they have none (or it does not exist),
    so that a forged slug cannot even tell whether the brand exists."""
    try:
        brand = Brand.objects.select_related("quota").get(slug=slug)
    except Brand.DoesNotExist:
        raise Http404("No such brand") from None
    if user.is_staff:
        return BrandAccess(brand, "staff")
    role = (
        Membership.objects.filter(user=user, brand=brand).values_list("role", flat=True).first()
    )
    if role is None:
        raise Http404("No such brand")
    return BrandAccess(brand, role)


def brand_view(*, write_methods: frozenset[str] = frozenset({"POST", "PUT", "PATCH", "DELETE"})):
    """Decorate a view taking ``slug``: log-in required, brand resolved from the URL and the
    user's membership (404 for non-members), writes (POST by default) refused with 403 for
    viewers. The view receives ``access`` (a BrandAccess) instead of ``slug``."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, slug: str, *args, **kwargs) -> HttpResponse:
            access = resolve_brand_access(request.user, slug)
            if request.method in write_methods and not access.can_write:
                raise PermissionDenied("Viewers cannot change this brand.")
            request.brand_access = access
            return view(request, access, *args, **kwargs)

        return wrapper

    return decorator
