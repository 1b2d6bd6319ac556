"""The import in a real browser: a dry run reports without writing, then the import itself with
the "stop at the first existing key" policy, each answered in place by htmx."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from brands.cache import BrandCache

pytestmark = pytest.mark.browser


def test_dry_run_then_import_with_a_policy(login_page, brand_factory, member_factory, tmp_path):
    brand = brand_factory("imports")
    cache = BrandCache.for_brand(brand)
    cache.set("c", "old")
    dump = tmp_path / "dump.jsonl"
    dump.write_text('{"key":"a","value":1}\nnot json\n{"key":"b","value":2,"ttl":99999}\n'
                    '{"key":"c","value":3}\n{"key":"d","value":4}\n')
    page = login_page(member_factory(brand))
    page.goto("/b/imports/keys/bulk/")

    page.set_input_files("#id_file", str(dump))
    page.get_by_label("Stop at the first existing key").check()
    page.get_by_label("Dry run: report what would happen, write nothing").check()
    page.get_by_role("button", name="Import").click()
    report = page.locator("#import-step")
    expect(report).to_contain_text("Dry run: nothing was written. 2 keys would be written, 1 line refused")
    expect(report).to_contain_text("1 TTL above the brand's maximum would be clamped to it")
    expect(report).to_contain_text("Stopped at line 4: the key c already exists")
    expect(report.locator(".refused-table")).to_contain_text("not valid JSON")
    assert not cache.has("a")

    page.get_by_label("Dry run: report what would happen, write nothing").uncheck()
    page.set_input_files("#id_file", str(dump))
    page.get_by_role("button", name="Import").click()
    expect(report).to_contain_text("2 keys written, 1 line refused")
    expect(page.locator("#toasts")).to_contain_text("Imported 2 keys.")
    assert cache.get("a") == 1 and cache.get("b") == 2 and cache.get("c") == "old" and not cache.has("d")
    expect(page.locator("#brand-usage")).to_contain_text("3 / 50,000 keys")
