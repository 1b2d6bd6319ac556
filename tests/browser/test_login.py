"""Log-in scenario: the form, a wrong password, the right one, the brand list, log out."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from brands.models import Membership

pytestmark = pytest.mark.browser


def test_log_in_with_the_form_and_see_my_brands(page, live_server, brand_factory, member_factory):
    # Two brands, so that home lists them (a single brand redirects straight to its keys).
    acme = brand_factory("acme", name="Acme Shop")
    bikes = brand_factory("bikes", name="Blue Bikes")
    brand_factory("hidden")  # not a member: must not be listed
    alice = member_factory(acme, username="alice")
    Membership.objects.create(user=alice, brand=bikes, role=Membership.Role.VIEWER)

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    # The stylesheet loaded (the live server serves static files): the top bar is dark.
    assert page.locator(".topbar").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(22, 27, 46)"
    # htmx loaded from django-htmx's vendored copy.
    assert page.evaluate("typeof window.htmx") == "object"

    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")

    page.get_by_label("Password").fill("pw-test-123")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Brands")).to_be_visible()
    expect(page.get_by_text("Acme Shop")).to_be_visible()
    expect(page.get_by_text("Blue Bikes")).to_be_visible()
    expect(page.get_by_text("hidden", exact=True)).to_have_count(0)
    expect(page.get_by_text("alice")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
