"""Team and brands in the dashboard: members (add by user name or e-mail, roles, removal, the
last admin), staff creating, renaming and deactivating brands, the styled error pages, and the
console refusing empty scripts."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import RequestFactory
from django.utils.functional import SimpleLazyObject

from brands.models import AuditEntry, Brand, Membership, ScriptRun
from brands.views import errors
from tests.support.htmx import HX


def members_url(brand, suffix: str = "") -> str:
    return f"/b/{brand.slug}/members/{suffix}"


# ---------------------------------------------------------------------------- members


def test_admin_adds_members_by_name_or_email(admin_client, brand, brand_admin, user_factory):
    carol = user_factory("carol")
    get_user_model().objects.filter(pk=carol.pk).update(email="carol@example.com")
    user_factory("dave")
    response = admin_client.post(members_url(brand), {"identifier": "CAROL@example.com", "role": "viewer"},
                                 **HX)
    assert json.loads(response["HX-Trigger"])["toast"]["message"] == "Added carol as viewer."
    admin_client.post(members_url(brand), {"identifier": "dave", "role": "admin"})
    roles = dict(Membership.objects.filter(brand=brand).values_list("user__username", "role"))
    assert roles == {brand_admin.username: "admin", "carol": "viewer", "dave": "admin"}
    body = admin_client.get(members_url(brand)).content.decode()
    assert "carol@example.com" in body and "Change role" in body
    entries = AuditEntry.objects.filter(brand=brand, action="member.add").values_list("target", "detail")
    assert sorted(entries) == [("carol", "as viewer"), ("dave", "as admin")]


@pytest.mark.parametrize(
    ("identifier", "message"),
    [("ghost", "No user is called &#x27;ghost&#x27;"), ("", "This field is required.")],
)
def test_adding_an_unknown_user_says_why(admin_client, brand, identifier, message):
    body = admin_client.post(members_url(brand), {"identifier": identifier, "role": "viewer"}, **HX)
    assert message in body.content.decode()
    assert Membership.objects.filter(brand=brand).count() == 1


def test_adding_an_existing_member_says_so(admin_client, brand, brand_admin):
    body = admin_client.post(members_url(brand), {"identifier": brand_admin.username, "role": "viewer"}, **HX)
    assert "is already a member (admin)" in body.content.decode()


def test_roles_change_and_members_leave(admin_client, brand, brand_admin, member_factory):
    viewer = member_factory(brand, Membership.Role.VIEWER, username="vic")
    membership = Membership.objects.get(user=viewer)
    admin_client.post(members_url(brand, f"{membership.pk}/"), {"role": "admin"}, **HX)
    membership.refresh_from_db()
    assert membership.role == "admin"
    response = admin_client.post(members_url(brand, f"{membership.pk}/"), {"remove": "1"}, **HX)
    assert json.loads(response["HX-Trigger"])["toast"]["message"] == "Removed vic."
    assert not Membership.objects.filter(user=viewer).exists()
    actions = list(AuditEntry.objects.filter(brand=brand).order_by("id").values_list("action", "detail"))
    assert actions == [("member.role", "viewer -> admin"), ("member.remove", "was admin")]


def test_the_last_admin_cannot_remove_or_demote_themselves(admin_client, brand, brand_admin):
    mine = Membership.objects.get(user=brand_admin)
    response = admin_client.post(members_url(brand, f"{mine.pk}/"), {"remove": "1"}, **HX)
    toast = json.loads(response["HX-Trigger"])["toast"]
    assert toast["level"] == "error" and "You are the brand's only admin" in toast["message"]
    response = admin_client.post(members_url(brand, f"{mine.pk}/"), {"role": "viewer"}, **HX)
    assert "only admin" in json.loads(response["HX-Trigger"])["toast"]["message"]
    mine.refresh_from_db()
    assert mine.role == "admin"
    assert list(AuditEntry.objects.filter(brand=brand).order_by("id").values_list("action", "outcome")) == [
        ("member.remove", "refused"), ("member.role", "refused")]


def test_an_admin_with_a_colleague_may_leave(client, brand, member_factory):
    me = member_factory(brand, username="me")
    member_factory(brand, username="colleague")
    client.force_login(me)
    mine = Membership.objects.get(user=me)
    response = client.post(members_url(brand, f"{mine.pk}/"), {"remove": "1"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get(members_url(brand)).status_code == 404  # no longer a member


def test_viewers_read_the_team_but_cannot_change_it(client, brand, brand_admin, member_factory):
    viewer = member_factory(brand, Membership.Role.VIEWER)
    client.force_login(viewer)
    body = client.get(members_url(brand)).content.decode()
    assert brand_admin.username in body and "Add a member" not in body and "data-write" not in body
    mine = Membership.objects.get(user=viewer)
    assert client.post(members_url(brand, f"{mine.pk}/"), {"role": "admin"}).status_code == 403
    assert client.post(members_url(brand), {"identifier": "x", "role": "admin"}).status_code == 403


def test_a_membership_of_another_brand_is_not_found(admin_client, brand, brand_factory, member_factory):
    other_member = member_factory(brand_factory("other"))
    membership = Membership.objects.get(user=other_member)
    assert admin_client.post(members_url(brand, f"{membership.pk}/"), {"remove": "1"}).status_code == 404
    assert Membership.objects.filter(pk=membership.pk).exists()


# ---------------------------------------------------------------------------- staff: brands


def test_staff_create_rename_and_deactivate_a_brand(client, staff_user, user_factory):
    user_factory("founder")
    client.force_login(staff_user)
    assert "New brand" in client.get("/staff/quotas/").content.decode()
    response = client.post("/staff/brands/new/",
                           {"slug": "fresh", "name": "Fresh Co", "first_admin": "founder"})
    assert response.status_code == 302 and response["Location"] == "/staff/brands/fresh/"
    brand = Brand.objects.get(slug="fresh")
    assert brand.quota.max_keys == 50_000
    assert Membership.objects.get(brand=brand).user.username == "founder"
    client.post("/staff/brands/fresh/", {"slug": "renamed", "name": "Renamed Co", "is_active": "on"})
    brand.refresh_from_db()
    assert (brand.slug, brand.name, brand.is_active) == ("renamed", "Renamed Co", True)
    client.post("/staff/brands/renamed/", {"slug": "renamed", "name": "Renamed Co"})  # unticked: inactive
    brand.refresh_from_db()
    assert brand.is_active is False
    actions = list(AuditEntry.objects.filter(brand=brand).order_by("id").values_list("action", "detail"))
    assert actions == [("brand.create", "name 'Fresh Co'"), ("member.add", "as admin"),
                       ("brand.rename", "slug: fresh -> renamed; name: Fresh Co -> Renamed Co"),
                       ("brand.deactivate", "")]


def test_brand_forms_refuse_bad_input(client, staff_user, brand_factory):
    brand_factory("taken")
    client.force_login(staff_user)
    body = client.post("/staff/brands/new/", {"slug": "taken", "name": "X"}).content.decode()
    assert "Brand with this Slug already exists." in body or "already exists" in body
    body = client.post("/staff/brands/new/", {"slug": "bad slug!", "name": "X"}).content.decode()
    assert "Enter a valid “slug”" in body
    body = client.post("/staff/brands/new/", {"slug": "ok", "name": "X", "first_admin": "nobody"})
    body = body.content.decode()
    assert "No user is called" in body and not Brand.objects.filter(slug="ok").exists()


def test_brand_pages_are_staff_only(client, brand, brand_admin):
    client.force_login(brand_admin)
    assert client.get("/staff/brands/new/").status_code == 403
    assert client.post(f"/staff/brands/{brand.slug}/", {"slug": "x", "name": "x"}).status_code == 403


# ---------------------------------------------------------------------------- error pages


def test_403_and_404_pages_are_styled_with_navigation(client, brand, brand_admin, member_factory):
    client.force_login(member_factory(brand, Membership.Role.VIEWER, username="val"))
    forbidden = client.post(f"/b/{brand.slug}/keys/new/", {"key": "x", "value": "1", "ttl": "1"})
    body = forbidden.content.decode()
    assert forbidden.status_code == 403 and "<html" in body and 'class="topnav"' in body
    assert "Viewers cannot change this brand." in body and "val" in body and "app.css" in body
    missing = client.get("/b/no-such-brand/keys/")
    body = missing.content.decode()
    assert missing.status_code == 404 and "This page does not exist" in body and 'class="topnav"' in body
    assert "/b/no-such-brand/keys/" in body


def test_error_pages_render_without_the_database_or_redis(dead_redis):
    """No `db` fixture: any database query here fails the test (pytest-django blocks it); Redis is
    unreachable too."""
    request = RequestFactory().get("/somewhere/")

    def broken_user():
        raise RuntimeError("the session store is down")

    request.user = SimpleLazyObject(broken_user)
    not_found = errors.not_found(request, Http404())
    assert not_found.status_code == 404 and b"This page does not exist" in not_found.content
    assert b"Log in" in not_found.content  # the user could not be read: no name shown
    forbidden = errors.forbidden(request, PermissionDenied("Staff only."))
    assert forbidden.status_code == 403 and b"Staff only." in forbidden.content
    server_error = errors.server_error(request)
    assert server_error.status_code == 500 and b"Something went wrong on our side" in server_error.content
    assert b'class="topnav"' in server_error.content


# ---------------------------------------------------------------------------- console


def test_empty_scripts_are_refused(admin_client, brand):
    response = admin_client.post(f"/b/{brand.slug}/console/", {"code": "  \n\t "}, **HX)
    assert "Nothing to run: the script is empty." in response.content.decode()
    assert "script-ran" not in response.get("HX-Trigger", "")
    json_answer = admin_client.post(f"/b/{brand.slug}/console/", {"code": ""}, HTTP_ACCEPT="application/json")
    assert json_answer.status_code == 400
    assert json_answer.json() == {"error": "Nothing to run: the script is empty."}
    assert not ScriptRun.objects.exists() and not AuditEntry.objects.exists()
