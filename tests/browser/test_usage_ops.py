"""The usage page's Operations section in a real browser (issue 12, items 2 and 3): the SVG bars
are drawn (no inline style: the CSP listener fails the test on a violation), their times are
labelled in the browser's zone, and a hot key links to its page."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from brands.cache import BrandCache, flush_op_counts

pytestmark = pytest.mark.browser


def test_operations_charts_and_hot_keys(login_page, brand_factory, member_factory):
    brand = brand_factory("acme", name="Acme Shop")
    cache = BrandCache.for_brand(brand)
    assert cache.set("user:42:profile", {"name": "Ada"}, 600)
    for _ in range(6):
        cache.get("user:42:profile")
    cache.get("user:43:profile")
    for _ in range(3):
        cache.increment("page:home:views")
    flush_op_counts()
    page = login_page(member_factory(brand, role="viewer"))

    page.goto("/b/acme/usage/")
    section = page.locator("#usage-ops")
    heading = re.compile(r"Last hour: 11 operations, hit ratio 85\.7 %")
    expect(section.get_by_role("heading", name=heading)).to_be_visible()
    ops_chart = section.get_by_role("img", name="Operations per minute, last hour")
    expect(ops_chart).to_be_visible()
    bar = ops_chart.locator(".ops-bars rect").last
    assert bar.evaluate("e => e.getBoundingClientRect().height") > 0
    ratio_chart = section.get_by_role("img", name=re.compile(r"Hit ratio .*, last hour"))
    expect(ratio_chart.locator(".ops-bars rect")).to_have_count(1)
    if os.environ.get("OPS_SCREENSHOT"):
        section.screenshot(path=os.environ["OPS_SCREENSHOT"])

    hot = section.locator("table.hot-keys").first
    expect(hot.locator("tbody tr").first).to_contain_text("user:42:profile")
    expect(hot.locator("tbody tr").first).to_contain_text("6")
    hot.get_by_role("link", name="user:42:profile").click()
    expect(page).to_have_url(re.compile(r"/b/acme/keys/user:42:profile/$"))
