"""One helper decides page or fragment (brands/views/_htmx.py): every page that pushes its URL
into the browser's history answers a history-restore request (the back button after htmx's
history cache was dropped) with the whole page, and an ordinary htmx request with its fragment."""

from __future__ import annotations

import json

import pytest

from brands.models import UsageSnapshot
from tests.support.htmx import HX, HX_HISTORY_RESTORE

# Every URL a page pushes with hx-push-url (templates: keys, usage, audit, staff quotas), with a
# marker of the fragment the htmx request swaps in (which the whole page contains too).
PUSHED_URLS = {
    "key browser, prefix": ("/b/{slug}/keys/?prefix=ns:", 'class="results-meta'),
    "key browser, all keys": ("/b/{slug}/keys/", 'class="results-meta'),
    "usage, period": ("/b/{slug}/usage/?period=24h", 'id="usage-chart"'),
    "audit, older page": ("/b/{slug}/audit/?page=2", 'class="audit-table"'),
    "staff monitor, sorted": ("/staff/quotas/?sort=slug&dir=asc", 'id="quota-table"'),
}
WHOLE_PAGE = "<html"


@pytest.fixture
def staff_client(client, staff_user, brand, cache):
    """Staff see every page, the monitor included; the brand has keys, a snapshot and two pages
    of audit entries so that every pushed URL has something to show."""
    for i in range(3):
        cache.set(f"ns:{i}", i)
    UsageSnapshot.objects.create(brand=brand, taken_at=brand.created, live_keys=3, max_keys=50_000)
    client.force_login(staff_user)
    for _ in range(60):
        client.post(f"/b/{brand.slug}/keys/ns:0/increment/", {"amount": "1"})
    return client


@pytest.mark.parametrize("name", PUSHED_URLS)
def test_history_restore_gets_the_whole_page(staff_client, brand, name):
    url, fragment_id = PUSHED_URLS[name]
    url = url.format(slug=brand.slug)

    restored = staff_client.get(url, **HX_HISTORY_RESTORE)
    assert restored.status_code == 200
    body = restored.content.decode()
    assert WHOLE_PAGE in body and '<header class="topbar">' in body and fragment_id in body

    fragment = staff_client.get(url, **HX)
    assert fragment.status_code == 200
    assert WHOLE_PAGE not in fragment.content.decode()
    assert fragment_id in fragment.content.decode()


def test_a_brand_page_loads_the_usage_bar_with_the_page(admin_client, brand, cache):
    cache.set("a", 1)
    cache.set("b", 2)
    body = admin_client.get(f"/b/{brand.slug}/audit/").content.decode()
    assert "<strong>2</strong> / 50,000 keys" in body


def test_a_fragment_does_not_carry_the_usage_bar(admin_client, brand, cache):
    cache.set("a", 1)
    body = admin_client.get(f"/b/{brand.slug}/audit/", **HX).content.decode()
    assert "keys ·" not in body and 'id="brand-usage"' not in body


def test_toast_and_usage_changed_events(admin_client, brand, cache):
    cache.set("n", 1)
    version = cache.key_info("n").version  # every dashboard change carries the version it saw
    response = admin_client.post(f"/b/{brand.slug}/keys/n/increment/", {"amount": "2", "version": version},
                                 **HX)
    events = json.loads(response["HX-Trigger"])
    assert events["toast"] == {"message": "n is now 3.", "level": "ok"}
    assert "usage-changed" in events
