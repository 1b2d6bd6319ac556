"""Staff pages for brands themselves: create one, rename it, deactivate or reactivate it. Every
change is audited on the brand (``brand.create``, ``brand.rename``, ``brand.deactivate``, ...).
The brand's cache keys are tied to its id, so a new slug keeps them."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from brands.audit import audit_record
from brands.members import MemberError, find_user
from brands.models import Brand, Membership
from brands.views.staff import staff_required


class BrandForm(forms.ModelForm):
    class Meta:
        model = Brand
        fields = ("slug", "name", "is_active")
        labels = {"slug": "Slug (in URLs)", "name": "Name", "is_active": "Active"}
        help_texts = {
            "slug": "Letters, digits, '-' and '_'. Changing it changes the brand's URLs; its keys stay.",
            "is_active": "An inactive brand is kept with its keys, but marked inactive everywhere.",
        }


class BrandCreateForm(BrandForm):
    first_admin = forms.CharField(
        label="First admin (optional)", required=False, max_length=254,
        help_text="A user name or e-mail; they can add the rest of the team.",
    )

    class Meta(BrandForm.Meta):
        fields = ("slug", "name")


@staff_required
@require_http_methods(["GET", "POST"])
def brand_create(request: HttpRequest) -> HttpResponse:
    form = BrandCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        admin = None
        if form.cleaned_data["first_admin"]:
            try:
                admin = find_user(form.cleaned_data["first_admin"])
            except MemberError as exc:
                form.add_error("first_admin", str(exc))
        if not form.errors:
            with transaction.atomic():
                brand = form.save()  # creates its quota row with the defaults
                audit_record(brand=brand, user=request.user, action="brand.create", target=brand.slug,
                             detail=f"name {brand.name!r}")
                if admin is not None:
                    Membership.objects.create(brand=brand, user=admin, role=Membership.Role.ADMIN)
                    audit_record(brand=brand, user=request.user, action="member.add",
                                 target=admin.get_username(), detail="as admin")
            messages.success(request, f"Created brand {brand.slug}. Check its quota below.")
            return redirect("staff-brand-edit", brand.slug)
    return render(request, "staff/brand_form.html", {"form": form, "brand": None})


@staff_required
@require_http_methods(["GET", "POST"])
def brand_edit(request: HttpRequest, slug: str) -> HttpResponse:
    brand = get_object_or_404(Brand.objects.select_related("quota"), slug=slug)
    before = {"slug": brand.slug, "name": brand.name, "is_active": brand.is_active}
    form = BrandForm(request.POST or None, instance=brand)
    if request.method == "POST" and form.is_valid():
        changed = [name for name in ("slug", "name", "is_active") if name in form.changed_data]
        if not changed:
            messages.info(request, f"Brand {brand.slug} unchanged.")
            return redirect("staff-brand-edit", brand.slug)
        with transaction.atomic():
            brand = form.save()
            if "slug" in changed or "name" in changed:
                detail = "; ".join(f"{name}: {before[name]} -> {getattr(brand, name)}"
                                   for name in ("slug", "name") if name in changed)
                audit_record(brand=brand, user=request.user, action="brand.rename", target=brand.slug,
                             detail=detail)
            if "is_active" in changed:
                action = "brand.activate" if brand.is_active else "brand.deactivate"
                audit_record(brand=brand, user=request.user, action=action, target=brand.slug)
        messages.success(request, f"Brand {brand.slug} saved ({', '.join(changed)}).")
        return redirect("staff-brand-edit", brand.slug)
    return render(request, "staff/brand_form.html", {"form": form, "brand": brand})
