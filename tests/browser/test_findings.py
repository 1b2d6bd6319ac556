"""The eleven findings of issue 13 ("safe editing"), each as a person met it in a real browser.

Every test here failed against the code before the change it covers (checked once, on the
commit before this work); the setup uses only what existed then, so each one fails for its
finding, not for a missing name.
"""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from brands.cache import BrandCache
from brands.models import Membership, ScriptRun
from tests.browser.conftest import PHONE

pytestmark = pytest.mark.browser


def accept_dialogs(page) -> list[str]:
    seen: list[str] = []
    page.on("dialog", lambda dialog: (seen.append(dialog.message), dialog.accept()))
    return seen


# ---------------------------------------------------------------------------- 1


def test_1_saving_a_value_keeps_the_remaining_ttl(login_page, brand_factory, member_factory):
    brand = brand_factory("one")
    cache = BrandCache.for_brand(brand)
    cache.set("session:abc", {"user": 1}, 120)
    page = login_page(member_factory(brand))
    page.goto("/b/one/keys/session:abc/")
    page.get_by_label("Value (JSON)").fill('{"user": 2}')
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#toasts .toast")).to_contain_text("Saved session:abc.")
    info = cache.key_info("session:abc")
    assert cache.get("session:abc") == {"user": 2}
    assert info.ttl_seconds <= 120, f"the save reset the TTL to {info.ttl_seconds:.0f} s"


# ---------------------------------------------------------------------------- 2


def test_2_a_key_changed_or_deleted_meanwhile_is_not_overwritten(login_page, brand_factory, member_factory):
    brand = brand_factory("two")
    cache = BrandCache.for_brand(brand)
    cache.set("config:checkout", {"min_order": 15}, 600)
    cache.set("config:old", {"x": 1}, 600)
    page = login_page(member_factory(brand))

    page.goto("/b/two/keys/config:checkout/")
    cache.set("config:checkout", {"min_order": 20}, 600)  # a script changes it meanwhile
    page.get_by_label("Value (JSON)").fill('{"min_order": 15, "free_shipping": true}')
    page.get_by_role("button", name="Save").click()
    conflict = page.get_by_role("alert").filter(has_text="changed since you opened it")
    expect(conflict).to_be_visible()
    assert cache.get("config:checkout") == {"min_order": 20}  # the script's change survives
    expect(conflict).to_contain_text('"min_order": 20')  # the key now
    expect(conflict).to_contain_text('"free_shipping": true')  # the user's
    expect(page.get_by_role("link", name="Discard my change")).to_be_visible()
    page.get_by_role("button", name="Overwrite with my value").click()
    expect(page.locator("#toasts .toast").last).to_contain_text("Saved config:checkout.")
    assert cache.get("config:checkout") == {"min_order": 15, "free_shipping": True}

    page.goto("/b/two/keys/config:old/")
    cache.delete("config:old")  # deleted meanwhile
    page.get_by_label("Value (JSON)").fill('{"x": 2}')
    page.get_by_role("button", name="Save").click()
    gone = page.get_by_role("alert").filter(has_text="deleted or has expired since you opened it")
    expect(gone).to_be_visible()
    expect(page.locator("#toasts")).not_to_contain_text("Saved")
    assert not cache.has("config:old")


# ---------------------------------------------------------------------------- 3


def test_3_deleting_a_row_updates_counts_tree_empty_state_and_focus(login_page, brand_factory,
                                                                    member_factory):
    brand = brand_factory("three")
    cache = BrandCache.for_brand(brand)
    cache.set("rate:api", 1, 600)
    cache.set("homepage", 1, 600)
    page = login_page(member_factory(brand))
    accept_dialogs(page)
    page.goto("/b/three/keys/?prefix=rate:")
    tree = page.get_by_role("navigation", name="Namespaces")
    expect(tree).to_contain_text("rate:")
    page.get_by_role("button", name="Delete rate:api").click()
    expect(page.locator("#key-results")).to_contain_text("Nothing under rate:")  # the empty state
    expect(page.locator(".results-meta")).not_to_contain_text("1 key")
    expect(tree).not_to_contain_text("rate:")
    focused = page.evaluate("document.activeElement.tagName")
    assert focused != "BODY", "keyboard focus fell to <body>"


# ---------------------------------------------------------------------------- 4


def test_4_the_prefix_box_list_and_url_are_one_state(login_page, brand_factory, member_factory):
    brand = brand_factory("four")
    cache = BrandCache.for_brand(brand)
    for i in range(60):
        cache.set(f"page:{i:02d}", i, 600)
    cache.set("user:1", 1, 600)
    page = login_page(member_factory(brand))
    page.goto("/b/four/keys/")
    box = page.get_by_label("Key prefix")

    box.fill("page:")
    expect(page).to_have_url(re.compile(r"prefix=page%3A"))
    page.get_by_role("link", name="show all").click()
    expect(page).not_to_have_url(re.compile(r"prefix="))
    expect(box).to_have_value("")

    page.get_by_role("navigation", name="Namespaces").get_by_role("link", name="user:").click()
    expect(page.locator("#key-results .key-cell a")).to_have_count(1)
    expect(box).to_have_value("user:")

    box.fill("page:")
    expect(page.locator("#key-results .key-cell a")).to_have_count(50)
    page.get_by_role("link", name="Load more").click()
    expect(page.locator("#key-results .key-cell a")).to_have_count(60)
    expect(page).to_have_url(re.compile(r"n=100"))
    page.reload()
    expect(page.locator("#key-results .key-cell a")).to_have_count(60)
    expect(box).to_have_value("page:")


# ---------------------------------------------------------------------------- 5


def test_5_bulk_delete_never_applies_a_count_from_another_prefix(login_page, brand_factory, member_factory):
    brand = brand_factory("five")
    cache = BrandCache.for_brand(brand)
    for i in range(3):
        cache.set(f"tmp:{i}", i, 600)
    for i in range(5):
        cache.set(f"keep:{i}", i, 600)
    page = login_page(member_factory(brand))
    dialogs = accept_dialogs(page)
    page.goto("/b/five/keys/bulk/")
    card = page.get_by_role("region", name="Delete by prefix")
    field = card.get_by_label("Key prefix")
    field.fill("tmp:")
    card.locator("button[type=submit]").first.click()
    step = page.locator("#delete-step")
    expect(step).to_contain_text("3 keys start with tmp:")

    field.fill("keep:")  # the prefix changes: the old "Delete 3 keys" must not stay
    expect(step.get_by_role("button", name=re.compile(r"^Delete 3 keys"))).to_have_count(0)
    expect(step).to_contain_text("5 keys start with keep:")
    button = step.get_by_role("button", name=re.compile(r"^Delete 5 keys"))
    expect(button).to_contain_text("keep:")  # the button names what it deletes
    button.click()
    expect(step).to_contain_text("Deleted 5 keys under keep:")
    assert dialogs and "keep:" in dialogs[-1]
    assert cache.count_prefix("tmp:") == 3 and cache.count_prefix("keep:") == 0


# ---------------------------------------------------------------------------- 6


def test_6_one_level_vocabulary_and_the_quota_editor_warns(login_page, brand_factory, member_factory,
                                                           staff_user):
    brand = brand_factory("six", max_keys=10)
    cache = BrandCache.for_brand(brand)
    for i in range(10):
        cache.set(f"k{i}", i, 600)
    brand.quota.max_keys = 8  # staff lowered the limit below the live count
    brand.quota.save()
    page = login_page(member_factory(brand))
    page.goto("/b/six/usage/")
    expect(page.locator(".brand-head")).to_contain_text("over limit")
    expect(page.locator("main")).not_to_contain_text("near limit")
    expect(page.locator(".usage-percent")).to_have_text("125.0 %")
    expect(page.locator(".brand-head")).to_contain_text("125.0 %")

    staff = login_page(staff_user)
    staff.goto("/staff/quotas/")
    row = staff.locator(".quota-table tbody tr", has_text="six")
    expect(row).to_contain_text("over limit")
    expect(row).to_contain_text("125.0 %")
    staff.goto("/staff/quotas/six/edit/")
    staff.get_by_label("Key limit").fill("5")
    staff.get_by_role("button", name="Save quota").click()
    expect(staff.locator("main")).to_contain_text("The brand holds 10 live keys, more than a limit of 5")
    brand.quota.refresh_from_db()
    assert brand.quota.max_keys == 8


# ---------------------------------------------------------------------------- 7


def test_7_a_loaded_run_shows_its_own_result_and_empty_scripts_are_refused(login_page, brand_factory,
                                                                           member_factory):
    brand = brand_factory("seven")
    page = login_page(member_factory(brand))
    page.goto("/b/seven/console/")
    editor = page.get_by_label("JavaScript code")
    for code in ("'first result'", "'second result'"):
        editor.fill(code)
        editor.press("Control+Enter")
        expect(page.locator("#result .result-json")).to_contain_text(code.strip("'"))
    expect(page.locator("#history tbody tr")).to_have_count(2)

    page.locator("#history tbody tr").nth(1).get_by_role("link", name="Load").click()
    expect(editor).to_have_value("'first result'")
    result = page.locator("#result")
    expect(result.locator(".result-json")).to_contain_text("first result")
    expect(result).to_contain_text(re.compile(r"Run #\d+ at"))

    editor.fill("   ")
    page.get_by_role("button", name="Run").click()
    expect(result).to_contain_text("the script is empty")
    page.wait_for_timeout(300)
    assert ScriptRun.objects.filter(brand=brand).count() == 2


# ---------------------------------------------------------------------------- 8


def test_8_keys_ending_in_a_colon_and_large_fan_outs(login_page, brand_factory, member_factory):
    brand = brand_factory("eight")
    cache = BrandCache.for_brand(brand)
    cache.set("customer:", "the namespace's own key", 600)
    for i in range(200):
        cache.set(f"customer:{i}", i, 600)
    page = login_page(member_factory(brand))
    page.goto("/b/eight/keys/")
    tree = page.get_by_role("navigation", name="Namespaces")
    node = tree.locator("details.tree-ns").first
    node.locator("summary .count").click()
    children = node.locator("ul li")
    expect(children.first).not_to_have_text("Loading…")
    expect(children).to_have_count(1)
    expect(children.first).to_contain_text("201 keys")
    labels = tree.locator("a").all_inner_texts()
    assert all(label.strip() for label in labels), "a tree entry has an empty label"


# ---------------------------------------------------------------------------- 9


def test_9_local_times_with_the_zone_countdowns_refresh_and_totals(login_page, brand_factory,
                                                                   member_factory):
    brand = brand_factory("nine")
    cache = BrandCache.for_brand(brand)
    cache.set("short", 1, 8)
    for i in range(3):
        cache.set(f"k{i}", i, 600)
    user = member_factory(brand)
    page = login_page(user, timezone_id="Asia/Tokyo")  # UTC+9, no daylight saving

    page.goto("/b/nine/keys/")
    expect(page.locator(".results-meta")).to_contain_text("4 of 4 keys")  # a total without a prefix
    ttl = page.locator("tr", has=page.locator("a", has_text="short")).locator("td").nth(4)
    first = ttl.inner_text()
    page.wait_for_timeout(2200)
    assert ttl.inner_text() != first, f"the TTL stayed at {first!r}"
    title = ttl.locator("[title]").first.get_attribute("title") or ttl.get_attribute("title") or ""
    assert "GMT+9" in title or "JST" in title, f"no absolute local expiry on hover: {title!r}"
    cache.set("added-meanwhile", 1, 600)
    page.get_by_role("button", name=re.compile("Refresh")).click()
    expect(page.locator("#key-results")).to_contain_text("added-meanwhile")

    page.goto("/b/nine/console/")
    page.get_by_label("JavaScript code").fill("1")
    page.get_by_role("button", name="Run").click()
    when = page.locator("#history tbody tr").first.locator("td").first
    expect(when).to_contain_text(re.compile(r"GMT\+9|JST"))
    expect(page.locator("main")).to_contain_text("Asia/Tokyo")


# ---------------------------------------------------------------------------- 10


def test_10_team_and_brands_in_the_dashboard_and_styled_error_pages(login_page, brand_factory, member_factory,
                                                                    user_factory, staff_user, browser_errors):
    brand = brand_factory("ten")
    admin = member_factory(brand, username="ada")
    colleague = user_factory("grace")
    get_user_model().objects.filter(pk=colleague.pk).update(email="grace@example.com")
    page = login_page(admin)
    page.goto("/b/ten/keys/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    page.get_by_label("User name or e-mail").fill("grace@example.com")
    page.get_by_role("button", name="Add").click()
    expect(page.locator("#team")).to_contain_text("grace")
    assert Membership.objects.filter(brand=brand, user=colleague, role="viewer").exists()
    page.get_by_label("Role of grace").select_option("admin")
    page.locator("#team tr", has_text="grace").get_by_role("button", name="Change role").click()
    expect(page.locator("#toasts .toast").last).to_contain_text("grace is now admin")

    staff = login_page(staff_user)
    staff.goto("/staff/quotas/")
    staff.get_by_role("link", name="New brand").click()
    staff.get_by_label("Slug (in URLs)").fill("eleven")
    staff.get_by_label("Name").fill("Eleven Co")
    staff.get_by_role("button", name="Create brand").click()
    expect(staff.locator(".messages")).to_contain_text("Created brand eleven")

    browser_errors.allow("the server responded with a status of 404")
    staff.goto("/b/no-such-brand/keys/")
    expect(staff.get_by_role("heading", name="This page does not exist")).to_be_visible()
    expect(staff.get_by_role("navigation", name="Main")).to_be_visible()


# ---------------------------------------------------------------------------- 11


LONG_KEY = "customer:subscriptions:weeklynewsletter:preferences.settings.version2"

LINE_BREAKS_JS = """(el) => {
  // The character after which each line of the element's text ends (where it wrapped).
  const text = el.textContent;
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  const tops = [];
  let node;
  while ((node = walker.nextNode())) {
    for (let i = 0; i < node.length; i++) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const rect = range.getClientRects()[0];
      tops.push(rect ? Math.round(rect.top) : null);
    }
  }
  const breaks = [];
  for (let i = 1; i < tops.length; i++) {
    if (tops[i] !== null && tops[i - 1] !== null && tops[i] > tops[i - 1]) breaks.push(text[i - 1]);
  }
  return breaks;
}"""


def test_11_on_a_phone_search_comes_first_names_wrap_at_separators_and_actions_fit(
        login_page, brand_factory, member_factory, staff_user):
    brand = brand_factory("phone")
    cache = BrandCache.for_brand(brand)
    for ns in ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india"):
        cache.set(f"{ns}:1", 1, 600)
    cache.set(LONG_KEY, 1, 600)
    page = login_page(member_factory(brand), PHONE)
    page.goto("/b/phone/keys/")
    search = page.get_by_label("Key prefix").bounding_box()
    tree = page.locator(".tree-card").bounding_box()
    assert search["y"] < tree["y"], "the namespace tree comes before the search box"
    assert search["y"] < PHONE["height"], "the search box is not on the first screen"

    link = page.locator("#key-results a", has_text="weeklynewsletter")
    breaks = link.evaluate(LINE_BREAKS_JS)
    assert breaks, "expected the long key to wrap on a phone"
    assert set(breaks) <= {":", "."}, f"the key name wraps mid-word (after {breaks!r})"

    delete = page.get_by_role("button", name=f"Delete {LONG_KEY}")
    box = delete.bounding_box()
    assert box and box["x"] + box["width"] <= PHONE["width"], "the row's Delete is off-screen"

    # The audit log's outcome and the staff monitor's Edit button are on screen too.
    cache.set("audited", 1, 600)
    page.goto("/b/phone/keys/audited/")
    page.get_by_label("Value (JSON)").fill("2")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#toasts .toast")).to_contain_text("Saved")
    time.sleep(0.2)
    page.goto("/b/phone/audit/")
    badge = page.locator("table tbody tr").first.locator(".badge").first
    box = badge.bounding_box()
    assert box and box["x"] + box["width"] <= PHONE["width"], "the audit log's outcome is off-screen"

    staff = login_page(staff_user, PHONE)
    staff.goto("/staff/quotas/")
    edit = staff.get_by_role("link", name="Edit the quota of phone")
    box = edit.bounding_box()
    assert box and box["x"] + box["width"] <= PHONE["width"], "the monitor's Edit button is off-screen"
