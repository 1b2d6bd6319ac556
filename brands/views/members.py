"""The members page of a brand: who may use it and how. Brand admins and staff add members (by
user name or e-mail), change their roles and remove them; viewers see the list. The rules
(the last admin stays) and the audit entries are in brands.members."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from brands.access import BrandAccess, brand_view
from brands.members import ROLES, MemberError, member_add, member_remove, member_set_role
from brands.models import Membership
from brands.views._audit import audit_refusal
from brands.views._htmx import render_page, toast, wants_fragment

TEMPLATE = "brands/members.html"


class MemberAddForm(forms.Form):
    identifier = forms.CharField(
        label="User name or e-mail", max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    role = forms.ChoiceField(label="Role", choices=list(ROLES.items()), initial=Membership.Role.VIEWER)


def _context(access: BrandAccess, form: MemberAddForm | None = None, error: str = "") -> dict:
    members = (Membership.objects.filter(brand=access.brand).select_related("user")
               .order_by("role", "user__username"))
    return {"access": access, "brand": access.brand, "members": members, "form": form or MemberAddForm(),
            "roles": list(ROLES.items()), "error": error}


def _answer(request: HttpRequest, access: BrandAccess, message: str, level: str, *,
            form: MemberAddForm | None = None) -> HttpResponse:
    if wants_fragment(request):
        error = message if level == "error" else ""
        response = render_page(request, TEMPLATE, _context(access, form, error), partial="team")
        return toast(response, message, level)
    (messages.success if level == "ok" else messages.error)(request, message)
    return redirect("members", access.brand.slug)


@brand_view()
@require_http_methods(["GET", "POST"])
def members(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    if request.method == "GET":
        return render_page(request, TEMPLATE, _context(access), partial="team")
    form = MemberAddForm(request.POST)
    if not form.is_valid():
        audit_refusal(request, "member.add", request.POST.get("identifier", ""),
                      "; ".join(" ".join(errors) for errors in form.errors.values()))
        return render_page(request, TEMPLATE, _context(access, form), partial="team")
    try:
        membership = member_add(brand=access.brand, identifier=form.cleaned_data["identifier"],
                                role=form.cleaned_data["role"], by=request.user)
    except MemberError as exc:
        audit_refusal(request, "member.add", form.cleaned_data["identifier"], str(exc))
        form.add_error("identifier", str(exc))
        return render_page(request, TEMPLATE, _context(access, form), partial="team")
    name = membership.user.get_username()
    return _answer(request, access, f"Added {name} as {membership.role}.", "ok")


@brand_view()
@require_POST
def member_change(request: HttpRequest, access: BrandAccess, member_id: int) -> HttpResponse:
    """POST role=<role> changes the role; POST remove=1 removes the membership."""
    membership = get_object_or_404(Membership.objects.select_related("user", "brand"), brand=access.brand,
                                   pk=member_id)
    name = membership.user.get_username()
    try:
        if request.POST.get("remove"):
            member_remove(membership=membership, by=request.user)
            if membership.user_id == request.user.pk and not request.user.is_staff:
                # They left the brand: its pages are closed to them now.
                messages.success(request, f"You left {access.brand.name}.")
                return _leave(request)
            return _answer(request, access, f"Removed {name}.", "ok")
        changed = member_set_role(membership=membership, role=request.POST.get("role", ""), by=request.user)
    except MemberError as exc:
        action = "member.remove" if request.POST.get("remove") else "member.role"
        audit_refusal(request, action, name, str(exc))
        return _answer(request, access, str(exc), "error")
    text = f"{name} is now {membership.role}." if changed else f"{name} was already {membership.role}."
    return _answer(request, access, text, "ok")


def _leave(request: HttpRequest) -> HttpResponse:
    url = reverse("home")
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
