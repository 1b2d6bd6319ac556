"""Key pages in a real browser: prefix search as you type, the namespace tree, creating a key
(with its validation errors), editing the TTL, deleting with confirmation, bulk delete by prefix,
and what a viewer sees."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from brands.cache import BrandCache

pytestmark = pytest.mark.browser

KEYS = [
    "user:1:name", "user:1:prefs", "user:2:name", "user:10:name",
    "order:1", "order:2", "config",
]


@pytest.fixture
def shop(brand_factory):
    brand = brand_factory("shop", name="Shop")
    cache = BrandCache.for_brand(brand)
    for key in KEYS:
        assert cache.set(key, {"k": key}, 600)
    return brand


def key_links(page):
    return page.locator("#key-results .key-cell a")


def test_prefix_search_filters_as_you_type(login_page, shop, member_factory):
    page = login_page(member_factory(shop))
    page.goto("/b/shop/keys/")
    expect(key_links(page)).to_have_count(len(KEYS))

    # Typed character by character, as a person would: htmx waits for a pause, then asks.
    page.get_by_label("Key prefix").press_sequentially("user:1", delay=40)
    # Sorted by bytes, as the index is: "0" comes before ":".
    expect(key_links(page)).to_have_text(["user:10:name", "user:1:name", "user:1:prefs"])
    expect(page.locator(".results-meta")).to_contain_text("3 keys starting with user:1")
    expect(page).to_have_url(re.compile(r"\?prefix=user%3A1$"))

    page.get_by_label("Key prefix").press("End")
    page.get_by_label("Key prefix").press_sequentially(":", delay=40)
    expect(key_links(page)).to_have_text(["user:1:name", "user:1:prefs"])

    page.get_by_label("Key prefix").fill("nothing-here")
    expect(page.locator("#key-results")).to_contain_text("Nothing under nothing-here")

    # The address bar kept the search: going back restores the previous results.
    page.go_back()
    expect(key_links(page)).to_have_text(["user:1:name", "user:1:prefs"])


def test_namespace_tree_expands_and_filters(login_page, shop, member_factory):
    page = login_page(member_factory(shop))
    page.goto("/b/shop/keys/")
    tree = page.get_by_role("navigation", name="Namespaces")
    expect(tree.locator("summary")).to_have_text([re.compile(r"^order:\s+2$"), re.compile(r"^user:\s+4$")])
    expect(tree.get_by_role("link", name="config", exact=True)).to_be_visible()

    # Opening a namespace loads its children (once) from the index.
    user = tree.locator("details.tree-ns", has=page.locator("summary a", has_text=re.compile("^user:$")))
    user.locator("summary .count").click()
    expect(user.locator("ul summary")).to_have_text(
        [re.compile(r"^10:\s+1$"), re.compile(r"^1:\s+2$"), re.compile(r"^2:\s+1$")]
    )

    # A namespace's name filters the key list to it.
    user.locator("ul summary a", has_text=re.compile("^1:$")).click()
    expect(key_links(page)).to_have_text(["user:1:name", "user:1:prefs"])
    expect(page).to_have_url(re.compile(r"\?prefix=user%3A1%3A$"))

    tree.get_by_role("link", name="All keys").click()
    expect(key_links(page)).to_have_count(len(KEYS))


def test_create_key_with_validation_errors_then_edit_ttl_and_delete(login_page, shop, member_factory):
    page = login_page(member_factory(shop))
    page.goto("/b/shop/keys/")
    page.get_by_role("link", name="New key").click()
    expect(page.get_by_role("heading", name="New key")).to_be_visible()

    page.get_by_label("Key", exact=True).fill("promo:spring")
    value = page.get_by_label("Value (JSON)")
    ttl = page.get_by_label("TTL (seconds)")
    create = page.get_by_role("button", name="Create key")

    value.fill('{"discount": 20,')
    expect(page.locator("[data-json-status]")).to_contain_text("JSON error")  # checked as you type
    create.click()
    expect(page.locator(".errorlist")).to_contain_text("Invalid JSON")
    expect(page.get_by_label("Value (JSON)")).to_have_value('{"discount": 20,')  # nothing lost
    expect(page.locator("[data-json-status]")).to_have_text("")  # one explanation, not two

    page.get_by_label("Value (JSON)").fill('"' + "x" * 600 + '"')
    expect(page.locator("[data-json-status]")).to_contain_text("too large")
    expect(page.locator(".errorlist")).to_be_hidden()  # the server's message was about older text
    create.click()
    expect(page.locator(".errorlist")).to_contain_text("above this brand's limit of 512 bytes")
    assert not BrandCache.for_brand(shop).has("promo:spring")

    page.get_by_label("Value (JSON)").fill('{"discount": 20, "until": "2024-05-31"}')
    expect(page.locator("[data-json-status]")).to_contain_text("Valid JSON")
    create.click()
    expect(page).to_have_url(re.compile(r"/b/shop/keys/promo:spring/$"))
    expect(page.locator(".messages")).to_contain_text("Created promo:spring.")
    expect(page.locator(".value-view")).to_contain_text('"discount": 20')

    # Edit the TTL: saved through htmx, confirmed by a toast.
    ttl = page.get_by_label("TTL (seconds)")
    ttl.fill("120")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#toasts .toast")).to_contain_text("Saved promo:spring.")
    remaining = BrandCache.for_brand(shop).key_info("promo:spring").ttl_seconds
    assert 60 < remaining <= 120

    # Delete asks first: dismissing keeps the key, accepting deletes it.
    messages: list[str] = []

    def answer(dialog, accept: bool):
        messages.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))
    page.get_by_role("button", name="Delete key").click()
    expect(page.get_by_role("button", name="Delete key")).to_be_visible()
    assert messages == ["Delete the key promo:spring? You can restore it from the audit log."]
    assert BrandCache.for_brand(shop).has("promo:spring")

    page.once("dialog", lambda d: answer(d, True))
    page.get_by_role("button", name="Delete key").click()
    expect(page.locator("#key-panel")).to_contain_text("was deleted")
    expect(page.locator("#toasts .toast").last).to_contain_text("Deleted promo:spring.")
    assert not BrandCache.for_brand(shop).has("promo:spring")


def test_bulk_delete_by_prefix_shows_the_count_first(login_page, shop, member_factory):
    cache = BrandCache.for_brand(shop)
    for i in range(7):
        cache.set(f"tmp:{i}", i, 600)
    page = login_page(member_factory(shop))
    page.goto("/b/shop/keys/")
    page.get_by_role("link", name="Bulk actions").click()

    card = page.get_by_role("region", name="Delete by prefix")
    card.get_by_label("Key prefix").fill("tmp:")
    card.get_by_role("button", name="Dry run").click()
    step = page.locator("#delete-step")
    expect(step).to_contain_text("7 keys start with tmp:")
    assert cache.count_prefix("tmp:") == 7  # the dry run deleted nothing

    dialogs: list[str] = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    page.get_by_role("button", name="Delete 7 keys starting with tmp:").click()
    expect(step).to_contain_text("Deleted 7 keys under tmp:.")
    expect(page.locator("#toasts .toast")).to_contain_text("Deleted 7 keys")
    assert dialogs == ["Delete 7 keys starting with tmp:?"]
    assert cache.count_prefix("tmp:") == 0
    assert cache.live_count() == len(KEYS)

    # Kept for the undo window: one click puts them back.
    step.get_by_role("button", name="Undo: restore the 7 keys").click()
    expect(page.locator(".messages")).to_contain_text("Restored 7 of 7 keys deleted under tmp:.")
    assert cache.count_prefix("tmp:") == 7


def test_viewer_sees_no_edit_controls(login_page, shop, member_factory):
    page = login_page(member_factory(shop, role="viewer"))
    page.goto("/b/shop/keys/")
    expect(key_links(page)).to_have_count(len(KEYS))
    expect(page.locator(".brand-head")).to_contain_text("read only")
    expect(page.get_by_role("link", name="New key")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Delete"))).to_have_count(0)
    expect(page.locator("[data-write]")).to_have_count(0)

    key_links(page).first.click()
    expect(page.locator(".value-view")).to_be_visible()
    expect(page.get_by_role("heading", name="Edit")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Save|Delete|Increment"))).to_have_count(0)
    expect(page.locator("textarea, [data-write]")).to_have_count(0)

    page.goto("/b/shop/keys/new/")
    expect(page.get_by_text("You have read-only access to this brand.")).to_be_visible()
    expect(page.locator("form[data-write], textarea")).to_have_count(0)

    page.goto("/b/shop/keys/bulk/")
    expect(page.get_by_role("heading", name="Export")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("Import|Delete by prefix"))).to_have_count(0)
