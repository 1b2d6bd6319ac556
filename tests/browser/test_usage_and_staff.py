"""Usage page (bar and chart) and the staff quota monitor (sorting by percent used)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from brands.cache import BrandCache
from brands.models import UsageSnapshot
from brands.usage import usage_snapshots_record

pytestmark = pytest.mark.browser


def fill(brand, count: int) -> None:
    cache = BrandCache.for_brand(brand)
    for i in range(count):
        assert cache.set(f"item:{i}", i, 600)


def test_usage_page_shows_the_bar_and_the_chart(login_page, brand_factory, member_factory):
    brand = brand_factory("acme", name="Acme Shop", max_keys=20)
    fill(brand, 17)  # 85 %: the bar is in its warning colour
    now = timezone.now()
    UsageSnapshot.objects.bulk_create(
        UsageSnapshot(brand=brand, taken_at=now - timedelta(hours=6 * i), live_keys=17 - i, max_keys=20)
        for i in range(10)
    )
    page = login_page(member_factory(brand, role="viewer"))

    page.goto("/b/acme/usage/")
    meter = page.get_by_role("meter", name="Live keys against the key limit")
    expect(meter).to_have_attribute("aria-valuenow", "17")
    expect(meter.locator("svg")).to_have_class(re.compile(r"\bwarning\b"))
    assert meter.locator(".bar-fill").evaluate("e => e.getBoundingClientRect().width") > 0
    expect(page.locator(".usage-percent")).to_have_text("85.0 %")
    # The forecast: one more key every 6 hours, 3 to go.
    expect(page.locator("#usage-forecast")).to_contain_text(
        "At this rate the limit is reached in about 18 hours")

    chart = page.get_by_role("img", name=re.compile(r"Live keys of Acme Shop over the last 7 days"))
    expect(chart).to_be_visible()
    assert len(chart.locator("polyline.series").get_attribute("points").split()) == 10

    # Switching the period redraws only the chart (htmx) and keeps it in the address bar.
    page.get_by_role("navigation", name="Chart period").get_by_role("link", name="24 hours").click()
    expect(page.get_by_role("img", name=re.compile(r"over the last 24 hours"))).to_be_visible()
    expect(page).to_have_url(re.compile(r"\?period=24h$"))
    assert len(page.locator("polyline.series").get_attribute("points").split()) == 4


def test_staff_monitor_sorts_by_percent_used(login_page, brand_factory, staff_user):
    for slug, limit, used in [("alpha", 100, 10), ("bravo", 10, 9), ("charlie", 20, 10)]:
        fill(brand_factory(slug, max_keys=limit), used)
    usage_snapshots_record()  # the monitor sorts by each brand's last snapshot
    page = login_page(staff_user)

    page.goto("/staff/quotas/")
    expect(page.get_by_role("heading", name="Quota monitor")).to_be_visible()
    slugs = page.locator(".quota-table tbody tr td:first-child code")

    used = page.get_by_role("columnheader", name=re.compile(r"^Used"))
    # The monitor opens sorted by percent used, fullest first: brands near their limit on top.
    expect(used).to_have_attribute("aria-sort", "descending")
    expect(slugs).to_have_text(["bravo", "charlie", "alpha"])  # 90 %, 50 %, 10 %

    page.get_by_role("link", name="Brand", exact=True).click()
    expect(slugs).to_have_text(["alpha", "bravo", "charlie"])
    expect(used).not_to_have_attribute("aria-sort", re.compile("."))

    used.get_by_role("link").click()
    expect(used).to_have_attribute("aria-sort", "descending")
    expect(slugs).to_have_text(["bravo", "charlie", "alpha"])
    expect(page).to_have_url(re.compile(r"sort=percent&dir=desc"))

    used.get_by_role("link").click()
    expect(used).to_have_attribute("aria-sort", "ascending")
    expect(slugs).to_have_text(["alpha", "charlie", "bravo"])


def test_usage_page_shows_the_exact_analysis(login_page, brand_factory, member_factory):
    brand = brand_factory("acme", name="Acme Shop")
    cache = BrandCache.for_brand(brand)
    for i in range(12):
        assert cache.set(f"cart:{i}", "x" * (i * 20), 30 if i < 4 else 1200)
    assert cache.set("user:big", "y" * 480, 600)
    page = login_page(member_factory(brand, role="viewer"))

    page.goto("/b/acme/usage/")
    section = page.locator("#usage-analysis")
    expect(section.get_by_role("heading", name="Value sizes")).to_be_visible()
    expect(section.get_by_role("heading", name="Expiring")).to_be_visible()
    ttl = section.get_by_role("table", name="Expiring")
    expect(ttl.locator("tbody tr").first).to_contain_text("within 1 min")
    expect(ttl.locator("tbody tr").first.locator("td.num").first).to_have_text("4")
    assert ttl.locator(".bar-fill").first.evaluate("e => e.getBoundingClientRect().width") > 0
    by_bytes = section.get_by_role("table", name="Namespaces by bytes")
    expect(by_bytes.locator("tbody tr code")).to_have_text(["cart:", "user:"])

    # The biggest key first, a link to its page.
    biggest = section.get_by_role("table", name="Biggest keys").get_by_role("link")
    expect(biggest.first).to_have_text("user:big")
    expect(biggest).to_have_count(10)

    # Any prefix, answered in place (htmx); bad input gets its rule, not an error page.
    section.get_by_label("Keys starting with").fill("cart:1")
    section.get_by_role("button", name="Count").click()
    expect(section.locator("#prefix-figures")).to_contain_text("3 live keys start with cart:1")
    section.get_by_label("Keys starting with").fill("cart 1")
    section.get_by_role("button", name="Count").click()
    expect(section.get_by_role("alert")).to_contain_text("Invalid prefix")

    biggest.first.click()
    expect(page).to_have_url(re.compile(r"/b/acme/keys/user:big/$"))
