"""``make screenshots``: PNGs of every page, desktop (1280 px) and phone (390 px), from demo data.

Run through pytest (``pytest tests/browser/screenshots.py``) so that it gets the live server, a
throwaway test database and the browser fixtures. The file name does not start with ``test_``,
so ``make test`` does not collect it. Pages still logging browser errors fail it, like any test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from brands.cache import BrandCache
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.demo_data import build_demo

pytestmark = pytest.mark.browser

OUT = Path(settings.BASE_DIR) / "docs" / "screenshots"
SIZES = {"desktop": DESKTOP, "phone": PHONE}
MAX_HEIGHT = {"desktop": 1600, "phone": 2400}


# The page must not scroll sideways (a wide table scrolls inside its .table-wrap instead). Lists
# the elements sticking out on the right that no scrolling box clips, to say what to fix. An
# absolutely positioned element is only clipped by a scroller at or above its containing block.
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= width) return [];
  const clipped = (el) => {
    let abs = getComputedStyle(el).position === "absolute";
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const style = getComputedStyle(a);
      if (abs && style.position !== "static") abs = false;
      if (!abs && style.overflowX !== "visible") return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const right = el.getBoundingClientRect().right;
    if (right > width + 1 && !clipped(el)) {
      out.push(el.tagName.toLowerCase() + "." + String(el.className).trim().split(/\\s+/).join(".")
               + " right=" + Math.round(right));
    }
  }
  return out.slice(0, 8);
}"""


def shoot(page, name: str, size: str) -> Path:
    page.wait_for_load_state("networkidle")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    overflow = page.evaluate(OVERFLOW_JS)
    assert not overflow, f"{name} ({size}) is wider than the viewport: {overflow}"
    path = OUT / f"{name}-{size}.png"
    # Whole pages, but a very long one (the key list) is cut at a height that keeps the PNG
    # small enough for a README.
    width, height = page.evaluate(
        "[document.documentElement.clientWidth, document.documentElement.scrollHeight]"
    )
    clip = {"x": 0, "y": 0, "width": width, "height": min(height, MAX_HEIGHT[size])}
    # No blinking caret in the pictures: Playwright's own option (an injected <style>, as before,
    # breaks the Content-Security-Policy, which the browser tests enforce).
    page.screenshot(path=str(path), full_page=True, clip=clip, caret="hide")
    return path


def page_exists(page, url: str) -> bool:
    return page.request.get(url).status == 200


@pytest.mark.parametrize("size", list(SIZES))
def test_screenshots(size, page, login_page, brand_factory, user_factory, browser_errors):
    OUT.mkdir(parents=True, exist_ok=True)
    demo = build_demo(brand_factory, user_factory)
    viewport = SIZES[size]
    written: list[Path] = []

    anonymous = page
    anonymous.set_viewport_size(viewport)
    anonymous.goto("/login/")
    anonymous.get_by_label("Username").fill("maria")
    written.append(shoot(anonymous, "login", size))

    admin = login_page(demo.admin, viewport)
    admin.goto("/")
    expect(admin.get_by_role("heading", name="Brands")).to_be_visible()
    written.append(shoot(admin, "home", size))

    admin.goto("/b/northwind/keys/")
    if size == "phone":  # the tree starts closed on a phone, below the search
        admin.locator("#tree-card > summary").click()
    tree = admin.get_by_role("navigation", name="Namespaces")
    user_ns = tree.locator("details.tree-ns", has=admin.locator("summary a", has_text="user:"))
    user_ns.locator("summary .count").click()
    expect(user_ns.locator("ul summary").first).to_be_visible()
    written.append(shoot(admin, "keys", size))

    admin.get_by_label("Key prefix").fill("user:")
    expect(admin.locator(".results-meta")).to_contain_text("starting with user:")
    written.append(shoot(admin, "keys-search", size))

    admin.goto("/b/northwind/keys/config:shipping:eu/")
    expect(admin.locator(".value-view")).to_be_visible()
    written.append(shoot(admin, "key", size))

    # A save refused because a script changed the key meanwhile: the key now beside the change.
    admin.goto("/b/northwind/keys/config:checkout/")
    BrandCache.for_brand(demo.brand).set(
        "config:checkout", {"min_order": 20, "free_shipping_from": 60, "currency": "EUR"}, 3600)
    admin.get_by_label("Value (JSON)").fill(
        '{\n  "min_order": 15,\n  "free_shipping_from": 50,\n  "currency": "EUR"\n}')
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("button", name="Overwrite with my value")).to_be_visible()
    written.append(shoot(admin, "key-conflict", size))
    # Saved again from a fresh page: on the page just photographed, htmx's settle copied an empty
    # style attribute into the swapped content (a CSP violation reported by htmx); the same
    # conflict and overwrite without a screenshot in between is clean (test_findings.py).
    admin.goto("/b/northwind/keys/config:checkout/")
    admin.get_by_label("Value (JSON)").fill(
        '{\n  "min_order": 15,\n  "free_shipping_from": 50,\n  "currency": "EUR"\n}')
    admin.get_by_role("button", name="Save").click()
    expect(admin.locator("#toasts .toast").last).to_contain_text("Saved config:checkout.")

    admin.goto("/b/northwind/keys/new/?key=promo:")
    admin.get_by_label("Key", exact=True).fill("promo:summer")
    admin.get_by_label("Value (JSON)").fill('{"discount": 20, "until": "2024-08-31",')
    admin.get_by_role("button", name="Create key").click()
    expect(admin.locator(".errorlist")).to_contain_text("Invalid JSON")
    written.append(shoot(admin, "key-new", size))

    admin.goto("/b/northwind/keys/bulk/")
    delete = admin.get_by_role("region", name="Delete by prefix")
    delete.get_by_label("Key prefix").fill("session:")
    delete.get_by_role("button", name="Dry run").click()
    expect(admin.locator("#delete-step")).to_contain_text("start with session:")
    copy = admin.get_by_role("region", name="Copy or rename a prefix")
    copy.get_by_label("From prefix").fill("user:")
    copy.get_by_label("To prefix").fill("customer:")
    copy.get_by_role("button", name="Dry run").click()
    expect(admin.locator("#copy-step")).to_contain_text("would be copied")
    written.append(shoot(admin, "bulk", size))

    if page_exists(admin, "/b/northwind/console/"):
        admin.goto("/b/northwind/console/")
        written.append(shoot_console(admin, size))

    admin.goto("/b/northwind/usage/")
    expect(admin.get_by_role("img", name="Live keys of Northwind")).to_be_visible()
    expect(admin.locator("svg.ops-chart").first).to_be_visible()
    written.append(shoot(admin, "usage", size))

    admin.goto("/b/northwind/audit/")
    expect(admin.locator(".diff").first).to_be_visible()  # the newest change, opened: its diff
    written.append(shoot(admin, "audit", size))

    admin.goto("/b/northwind/members/")
    written.append(shoot(admin, "members", size))

    viewer = login_page(demo.viewer, viewport)
    viewer.goto("/b/northwind/keys/")
    written.append(shoot(viewer, "keys-viewer", size))

    staff = login_page(demo.staff, viewport)
    staff.goto("/staff/quotas/")
    expect(staff.get_by_role("heading", name="Quota monitor")).to_be_visible()
    written.append(shoot(staff, "staff-quotas", size))

    browser_errors.allow("the server responded with a status of 404")
    staff.goto("/b/no-such-brand/keys/")
    written.append(shoot(staff, "not-found", size))

    for path in written:
        assert path.stat().st_size < 300_000, f"{path.name} is {path.stat().st_size} bytes"


CONSOLE_SCRIPT = """\
// Rate-limit an API client: at most 1000 calls a minute.
var calls = cache.increment('rate:api:web', 1, 60);
var limited = calls > 1000;
setVariable('calls', calls);
setVariable('limited', limited);

var stock = cache.get('product:SKU-1042:stock');
setVariable('stock', stock);
console.log('web client: ' + calls + ' calls this minute');
if (limited) console.warn('over the limit: answer 429');
({calls: calls, limited: limited, stock: stock})
"""


def shoot_console(page, size: str) -> Path:
    editor = page.get_by_label("JavaScript code")
    for code in ["cache.get('feature:new-checkout')", CONSOLE_SCRIPT]:
        editor.fill(code)
        editor.press("Control+Enter")
        expect(page.locator("#result .badge")).to_have_text("ok")
    expect(page.locator("#history tbody tr")).to_have_count(2)
    return shoot(page, "console", size)
