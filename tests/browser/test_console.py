"""The script console in a real browser: Ctrl+Enter runs, the result panel shows the operations
meter, variables and console output; an endless loop ends in a time-limit error and the page
keeps working; a viewer cannot run anything."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from brands.cache import BrandCache
from brands.models import ScriptRun

pytestmark = pytest.mark.browser

SCRIPT = """\
var n = cache.increment('visits', 4, 600);
cache.set('greeting', {hello: 'world'}, 600);
setVariable('visits', n);
setVariable('greeting', cache.get('greeting'));
console.log('visits is ' + n);
console.warn('almost out of coffee');
n * 10
"""


def run_with_keyboard(page, code: str) -> None:
    editor = page.get_by_label("JavaScript code")
    editor.fill(code)
    editor.press("Control+Enter")


def test_run_a_script_with_ctrl_enter(login_page, brand_factory, member_factory):
    brand = brand_factory("shop")
    page = login_page(member_factory(brand))
    page.goto("/b/shop/keys/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Console").click()
    expect(page.get_by_role("heading", name="Script console")).to_be_visible()

    run_with_keyboard(page, SCRIPT)
    result = page.locator("#result")
    expect(result.locator(".badge")).to_have_text("ok")
    meter = result.get_by_role("meter", name="Cache operations used")
    expect(meter).to_have_attribute("aria-valuenow", "3")
    expect(result.locator(".ops-meter")).to_contain_text("3 of 20 operations")
    expect(result.locator(".result-json")).to_have_text("40")

    variables = result.locator(".variables-table tbody tr")
    expect(variables).to_have_count(2)
    expect(variables.filter(has_text="visits")).to_contain_text("4")
    expect(variables.filter(has_text="greeting")).to_contain_text('{"hello": "world"}')

    logs = result.locator(".log-list li")
    expect(logs).to_have_count(2)
    expect(logs.nth(0)).to_contain_text("visits is 4")
    expect(logs.nth(1)).to_have_class(re.compile(r"\blog-warn\b"))
    expect(logs.nth(1)).to_contain_text("almost out of coffee")

    # The history reloads itself after the run.
    expect(page.locator("#history tbody tr")).to_have_count(1)
    expect(page.locator("#history tbody tr .badge")).to_have_text("ok")
    assert BrandCache.for_brand(brand).get("visits") == 4


def test_endless_loop_times_out_and_the_page_stays_usable(login_page, brand_factory, member_factory):
    # A short time limit keeps the test quick; the mechanism is the same at 1000 ms.
    brand = brand_factory("shop", script_timeout_ms=300)
    page = login_page(member_factory(brand))
    page.goto("/b/shop/console/")

    run_with_keyboard(page, "while(true){}")
    result = page.locator("#result")
    expect(result.locator(".badge")).to_have_text("error", timeout=15_000)
    expect(result.get_by_role("alert")).to_contain_text("time limit of 300 ms")
    assert ScriptRun.objects.get().ok is False

    # The page, the editor and the worker pool all still work: the next script runs normally.
    expect(page.get_by_role("button", name="Run")).to_be_enabled()
    run_with_keyboard(page, "setVariable('after', 'timeout'); 6 * 7")
    expect(result.locator(".badge")).to_have_text("ok")
    expect(result.locator(".result-json")).to_have_text("42")
    expect(result.locator(".variables-table")).to_contain_text('"timeout"')
    expect(page.locator("#history tbody tr")).to_have_count(2)


def test_viewer_cannot_run_scripts(login_page, brand_factory, member_factory):
    brand = brand_factory("shop")
    page = login_page(member_factory(brand, role="viewer"))
    page.goto("/b/shop/console/")
    editor = page.get_by_label("JavaScript code")
    expect(editor).to_have_attribute("readonly", "")
    expect(page.get_by_role("button", name="Run")).to_have_count(0)
    expect(page.get_by_text("You have read-only access")).to_be_visible()

    # Ctrl+Enter in the read-only editor sends nothing.
    editor.press("Control+Enter")
    page.wait_for_timeout(300)
    expect(page.locator("#result")).to_contain_text("Run a script to see its result")
    assert not ScriptRun.objects.exists()
