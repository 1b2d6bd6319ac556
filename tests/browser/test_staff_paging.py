"""The staff monitor's pages in a browser: paging keeps the sort, the URL follows, and saving a
quota from the monitor reloads the page being looked at (not the first)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from brands.models import QuotaSettings
from tests.views.test_staff_paging import make_brands

pytestmark = pytest.mark.browser


def test_paging_sorting_and_a_quota_save_keep_the_view(login_page, staff_user, db):
    make_brands(120)
    page = login_page(staff_user)
    page.goto("/staff/quotas/?sort=slug&dir=asc")
    slugs = page.locator(".quota-table tbody tr td:first-child code")
    expect(slugs).to_have_count(50)
    expect(slugs.first).to_have_text("p0000")

    page.get_by_role("navigation", name="Pages of the quota monitor").get_by_role("link", name="Next").click()
    expect(page.locator(".pager-status")).to_have_text("Page 2 of 3")
    expect(slugs.first).to_have_text("p0050")
    expect(page).to_have_url(re.compile(r"\?sort=slug&dir=asc&page=2$"))

    # Edit a brand of page 2 in the monitor's editor: after the save the table reloads page 2.
    page.get_by_role("link", name="Edit the quota of p0060").click()
    page.get_by_label("Key limit").fill("1234")
    page.get_by_role("button", name="Save quota").click()
    expect(page.locator("#toasts .toast").last).to_contain_text("Quota of p0060 saved")
    row = page.locator(".quota-table tbody tr", has_text="p0060")
    expect(row).to_contain_text("1,234")
    expect(page.locator(".pager-status")).to_have_text("Page 2 of 3")
    assert QuotaSettings.objects.get(brand__slug="p0060").max_keys == 1234

    # "Limit reached" sorts the soonest first and starts again on page 1.
    page.get_by_role("columnheader", name=re.compile(r"^Limit reached")).get_by_role("link").click()
    expect(page.locator(".pager-status")).to_have_text("Page 1 of 3")
    expect(slugs.first).to_have_text("p0000")
    expect(slugs.nth(1)).to_have_text("p0003")
    expect(page).to_have_url(re.compile(r"\?sort=forecast&dir=asc$"))
