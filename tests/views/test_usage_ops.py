"""Operations per brand from the dashboard (issue 12, items 2 and 3): counted exactly through
real requests (each refusal reason the dashboard can meet), flushed by the request itself, shown
on the usage page (SVG charts, hot keys) and exported on /metrics."""

from __future__ import annotations

import re

import pytest

from brands.cache import BrandCache, brands_ops_totals, discard_op_counts, flush_op_counts, pending_op_calls
from brands.scripting import run_script
from tests.support.htmx import HX


@pytest.fixture(autouse=True)
def _fresh_tally():
    discard_op_counts()


def create(client, brand, key, value="1", ttl="60"):
    return client.post(f"/b/{brand.slug}/keys/new/", {"key": key, "value": value, "ttl": ttl}, **HX)


def test_dashboard_operations_are_counted_exactly_and_flushed_by_the_request(client, brand_factory,
                                                                             member_factory):
    brand = brand_factory(max_keys=1)
    client.force_login(member_factory(brand))
    assert create(client, brand, "k").status_code == 200  # setIfAbsent + the audit's read
    assert pending_op_calls() == 0  # the request flushed its own counts
    assert brands_ops_totals([brand.pk])[brand.pk] == {"dashboard:write": 1, "dashboard:read_hit": 1}

    create(client, brand, "a b")  # the form refuses the key before the cache sees it
    create(client, brand, "big", value='"' + "x" * 600 + '"')  # over 512 bytes
    create(client, brand, "k2")  # the brand is full (max_keys 1)
    create(client, brand, "k")  # exists: setIfAbsent does not write
    page = client.get(f"/b/{brand.slug}/keys/k/")
    assert page.status_code == 200
    client.get(f"/b/{brand.slug}/keys/missing/")
    version = BrandCache.for_brand(brand).key_info("k").version
    discard_op_counts()  # that read was the test's, not a request's
    client.post(f"/b/{brand.slug}/keys/k/delete/", {"version": version}, **HX)
    totals = brands_ops_totals([brand.pk])[brand.pk]
    assert totals == {
        "dashboard:write": 1,
        # Reads the dashboard makes are counted, its own included: the audit's read after
        # creating, the key page, the delete's read of the value it removes (for the undo).
        "dashboard:read_hit": 3,
        "dashboard:read_miss": 1,  # the page of a missing key
        "dashboard:exists": 1,
        "dashboard:delete": 1,
        "dashboard:refused_invalid_key": 1,
        "dashboard:refused_value_size": 1,
        "dashboard:refused_key_limit": 1,
    }, totals
    assert pending_op_calls() == 0


def test_usage_page_shows_charts_ratios_and_hot_keys(admin_client, brand, script_pool):
    cache = BrandCache.for_brand(brand)
    cache.set("user:1", 1)
    for _ in range(3):
        cache.get("user:1")
    cache.get("nothing")
    flush_op_counts()
    assert run_script(brand, "cache.get('user:1'); cache.increment('hits')", pool=script_pool)["ok"]

    html = admin_client.get(f"/b/{brand.slug}/usage/").content.decode()
    section = html[html.index('id="usage-ops"'):]
    # Last hour: 5 dashboard calls + 2 script calls; reads 5, hits 4.
    assert "Last hour: 7 operations, hit ratio 80.0 %" in section
    assert "Last 24 hours: 7 operations, hit ratio 80.0 %" in section
    assert section.count('class="usage-chart ops-chart"') == 4
    bars = re.findall(
        r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"><title[^>]*>[^<]*: ([^<]*)</title>',
        section)
    assert ("7 ops/min" in [text for _, text in bars]) and ("80.0 %" in [text for _, text in bars])
    # The hour chart's one busy minute is its tallest bar: the axis top is 10, so 7/10 of the height.
    heights = {text: float(height) for height, text in bars}
    assert heights["7 ops/min"] == pytest.approx(0.7 * (180 - 12 - 30), abs=0.1)
    hot = section[section.index("Hot keys, last hour"):]
    assert (f'<a href="/b/{brand.slug}/keys/user:1/"><code>user:<wbr>1</code></a></td><td class="num">4</td>'
            in hot)
    assert hot.index("user:1") < hot.index("nothing")
    assert "Most written" in hot and "hits" in hot
    assert "<td>Refused: key limit</td>" in section


def test_usage_page_without_operations(admin_client, brand):
    html = admin_client.get(f"/b/{brand.slug}/usage/").content.decode()
    assert "No cache operations in this window." in html and "None in the last hour." in html


def test_metrics_export_the_counters_per_brand(client, staff_user, brand_factory):
    one, two = brand_factory(slug="one"), brand_factory(slug="two")
    BrandCache.for_brand(one).get("x")
    BrandCache.for_brand(two, source="script").set("x", "y" * 600)
    flush_op_counts()
    client.force_login(staff_user)
    text = client.get("/metrics").content.decode()
    assert "# TYPE cacheadmin_brand_operations_total counter" in text
    assert 'cacheadmin_brand_operations_total{brand="one",op="read_miss",source="dashboard"} 1.0' in text
    refusal = 'cacheadmin_brand_operation_refusals_total{brand="two",reason="value_size",source="script"} 1.0'
    assert refusal in text
    assert 'cacheadmin_brand_operations_total{brand="two",op="read_miss",source="script"} 0.0' in text
    # Every brand, source and kind, so a rate() never starts from a missing series.
    assert text.count("cacheadmin_brand_operations_total{") == 2 * 2 * 6
    assert text.count("cacheadmin_brand_operation_refusals_total{") == 2 * 2 * 4
