"""Issue 11 in a real browser: the Content-Security-Policy holds on every kind of page (a violation
fails the test, see conftest.CSP_LISTENER), htmx runs without eval, the usage bars are drawn
without style attributes, the admin works under the policy, and a locked-out log-in shows its page."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from brands.cache import BrandCache
from brands.models import AuditEntry

pytestmark = pytest.mark.browser


def test_a_violation_is_caught_and_would_fail_a_test(page, browser_errors):
    page.goto("/login/")
    page.evaluate("document.body.setAttribute('style', 'color: red')")
    page.wait_for_function("getComputedStyle(document.body).color !== ''")
    page.wait_for_timeout(200)  # the violation event is queued
    assert any("CSP violation: style-src" in m for m in browser_errors.messages), browser_errors.messages
    assert page.evaluate("getComputedStyle(document.body).color") != "rgb(255, 0, 0)"  # blocked
    browser_errors.allow("CSP violation")
    browser_errors.allow("violates the following Content Security Policy directive")


def test_htmx_runs_without_eval_or_injected_styles(page):
    page.goto("/login/")
    config = page.evaluate("({eval: htmx.config.allowEval, scripts: htmx.config.allowScriptTags, "
                           "styles: htmx.config.includeIndicatorStyles})")
    assert config == {"eval": False, "scripts": False, "styles": False}
    assert page.locator("head style").count() == 0


def test_usage_bars_are_svg_with_the_right_width(login_page, brand_factory, member_factory):
    brand = brand_factory("bars", max_keys=8)
    cache = BrandCache.for_brand(brand)
    for i in range(7):
        cache.set(f"k{i}", i)
    page = login_page(member_factory(brand))
    page.goto("/b/bars/keys/")
    bar = page.locator("#brand-usage svg.bar-svg")
    expect(bar).to_have_class("bar-svg warning")
    fill = bar.locator("rect.bar-fill")
    assert fill.get_attribute("width") == "87.50"
    assert fill.bounding_box()["width"] == pytest.approx(bar.bounding_box()["width"] * 0.875, abs=2)
    assert fill.evaluate("r => getComputedStyle(r).fill") == "rgb(212, 167, 44)"
    page.goto("/b/bars/usage/")
    expect(page.locator(".usage-chart, .empty, table").first).to_be_visible()


def test_the_admin_works_under_the_policy(login_page, brand, cache):
    cache.set("k", 1)
    AuditEntry.objects.create(brand=brand, action="key.update", target="k")
    root = get_user_model().objects.create_superuser("root", password="pw-root-123")
    page = login_page(root)
    for path in ("/admin/", f"/admin/brands/brand/{brand.pk}/change/", "/admin/brands/auditentry/",
                 "/admin/axes/accessattempt/", f"/admin/brands/brand/{brand.pk}/delete/"):
        page.goto(path)
        expect(page.locator("#content")).to_be_visible()
    expect(page.locator(".brand-cache-note")).to_contain_text("1 cache key")
    page.get_by_role("button", name="Yes, I’m sure").click()
    expect(page.locator(".messagelist")).to_contain_text("deleted successfully")
    assert BrandCache.for_brand(brand).live_count() == 0


def test_a_locked_out_log_in_shows_the_lockout_page(page, user_factory, settings, browser_errors):
    browser_errors.allow("status of 429")  # the lock-out page's own status, logged by Chromium
    user_factory("mallory-target", password="pw-target-123")
    page.goto("/login/")
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        page.get_by_label("Username").fill("mallory-target")
        page.get_by_label("Password").fill(f"guess-{attempt}")
        page.get_by_role("button", name="Log in").click()
        if attempt < settings.AXES_FAILURE_LIMIT - 1:
            expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    expect(page.get_by_role("heading", name="Too many failed log-ins")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("locked for 15 minutes")
    assert page.locator(".topbar").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(22, 27, 46)"
