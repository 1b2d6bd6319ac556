"""The staff monitor at many brands: server-side paging and sorting, the forecast column, bad
parameters, and a cost that does not grow with the number of brands."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from brands.cache import BrandCache
from brands.models import Brand, QuotaSettings, UsageSnapshot
from brands.usage import MonitorQuery, quota_page
from brands.usage.monitor import PER_PAGE
from tests.support.redis_spy import count_redis_calls

MONITOR = "/staff/quotas/"
TAKEN = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


def slugs_in_order(html: str) -> list[str]:
    return re.findall(r'<td data-label="Brand"><a href="/b/[^/]+/usage/"><code>([^<]+)</code></a>', html)


def make_brands(count: int, *, prefix: str = "p") -> list[Brand]:
    """``count`` brands in bulk, limit 1000; brand i's last snapshot has i live keys (so "used"
    and "live keys" order them by i), and every third one a forecast i hours after TAKEN."""
    with transaction.atomic():
        brands = Brand.objects.bulk_create(
            [Brand(slug=f"{prefix}{i:04d}", name=f"Name {count - i:04d}") for i in range(count)])
        QuotaSettings.objects.bulk_create([QuotaSettings(brand=b, max_keys=1000) for b in brands])
        UsageSnapshot.objects.bulk_create(
            [UsageSnapshot(brand=b, taken_at=TAKEN - timedelta(hours=1), live_keys=0, max_keys=1000)
             for b in brands]
            + [UsageSnapshot(brand=b, taken_at=TAKEN, live_keys=i, max_keys=1000, refused_writes=i % 7,
                             limit_at=TAKEN + timedelta(hours=i) if i % 3 == 0 else None)
               for i, b in enumerate(brands)])
    return brands


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def many(db):
    return make_brands(120)


def get_table(client, **params):
    response = client.get(MONITOR, params, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def test_pages_of_fifty_in_the_chosen_order(staff_client, many):
    first = get_table(staff_client)
    assert slugs_in_order(first) == [f"p{i:04d}" for i in range(119, 69, -1)]  # used, descending
    assert "Brands 1–50 of 120." in first and "Page 1 of 3" in first
    third = get_table(staff_client, page="3")
    assert slugs_in_order(third) == [f"p{i:04d}" for i in range(19, -1, -1)]
    assert "Brands 101–120 of 120." in third and "Page 3 of 3" in third
    by_slug = get_table(staff_client, sort="slug", dir="asc", page="2")
    assert slugs_in_order(by_slug) == [f"p{i:04d}" for i in range(50, 100)]
    by_name = get_table(staff_client, sort="name", dir="asc")  # names run the other way
    assert slugs_in_order(by_name)[:2] == ["p0119", "p0118"]


def test_page_links_keep_the_sort_and_filter(staff_client, many):
    html = get_table(staff_client, sort="live_keys", dir="asc", q="p0", page="2")
    assert 'href="/staff/quotas/?q=p0&amp;sort=live_keys&amp;dir=asc&amp;page=3"' in html  # next
    assert 'href="/staff/quotas/?q=p0&amp;sort=live_keys&amp;dir=asc"' in html  # first: no page
    assert 'hx-get="/staff/quotas/?q=p0&amp;sort=live_keys&amp;dir=asc&amp;page=3"' in html
    assert 'rel="prev"' in html and 'rel="next"' in html
    # A new sort starts on page 1.
    assert 'href="/staff/quotas/?q=p0&amp;sort=slug&amp;dir=asc"' in html
    # After a quota is saved elsewhere on the page the table reloads this very view.
    assert ('<div id="quota-table" hx-get="/staff/quotas/?q=p0&amp;sort=live_keys&amp;dir=asc&amp;page=2" '
            'hx-trigger="quotas-changed from:body" hx-swap="outerHTML" hx-disinherit="hx-swap"') in html


@pytest.mark.parametrize(
    ("params", "page_text"),
    [
        ({"page": "0"}, "Page 1 of 3"),
        ({"page": "-1"}, "Page 1 of 3"),
        ({"page": "abc"}, "Page 1 of 3"),
        ({"page": "2.5"}, "Page 1 of 3"),
        ({"page": "²"}, "Page 1 of 3"),
        ({"page": "99"}, "Page 3 of 3"),  # past the end: the last page
        ({"page": "9" * 40}, "Page 3 of 3"),
        ({"page": "9" * 5000}, "Page 3 of 3"),  # beyond what int() converts
        ({"sort": "__class__", "dir": "up", "page": "2"}, "Page 2 of 3"),
        ({"sort": "quota__max_keys"}, "Page 1 of 3"),  # not a sort name, even if the ORM knows it
    ],
)
def test_bad_parameters_give_a_sane_page(staff_client, many, params, page_text):
    for htmx in (False, True):
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        response = staff_client.get(MONITOR, params, **headers)
        assert response.status_code == 200
        html = response.content.decode()
        assert page_text in html and len(slugs_in_order(html)) in (50, 20)


def test_sorting_by_forecast_soonest_first(staff_client, many):
    html = get_table(staff_client, sort="forecast", dir="asc")
    # Every third brand has a forecast, i hours after TAKEN: p0000 soonest. Brands without one last.
    assert slugs_in_order(html)[:5] == ["p0000", "p0003", "p0006", "p0009", "p0012"]
    last_page = get_table(staff_client, sort="forecast", dir="asc", page="3")
    assert slugs_in_order(last_page)[-1] == "p0119"  # no forecast; ties by slug
    assert 'aria-sort="ascending"' in html
    # The heading's first click asks for the soonest first.
    assert 'href="/staff/quotas/?sort=forecast&amp;dir=asc"' in get_table(staff_client)


def test_forecast_column_says_it_plainly(staff_client, brand_factory):
    soon = brand_factory("soon", max_keys=100)
    UsageSnapshot.objects.create(brand=soon, taken_at=timezone.now(), live_keys=50, max_keys=100,
                                 limit_at=timezone.now() + timedelta(days=4, minutes=5))
    brand_factory("never", max_keys=100)
    html = get_table(staff_client, sort="forecast", dir="asc")
    assert slugs_in_order(html) == ["soon", "never"]
    assert "in about 4 days" in html
    assert re.search(r'<time class="muted" datetime="[^"]+" data-local>', html)
    # A forecast whose date has passed says so.
    UsageSnapshot.objects.filter(brand=soon).update(limit_at=timezone.now() - timedelta(hours=2))
    assert "due by the last forecast" in get_table(staff_client, sort="forecast", dir="asc")


def test_live_figures_for_the_rows_shown_and_the_page_says_so(staff_client, brand_factory):
    brand = brand_factory("live", max_keys=10)
    UsageSnapshot.objects.create(brand=brand, taken_at=TAKEN, live_keys=1, max_keys=10)
    cache = BrandCache.for_brand(brand)
    for i in range(9):
        assert cache.set(f"k{i}", i)
    html = get_table(staff_client)
    assert "90.0 %" in html  # live, not the snapshot's 10 %
    assert "read live from Redis" in html and "<strong>last snapshot</strong>" in html
    # Sorted by name the order does not come from a snapshot; the page does not claim it does.
    assert "<strong>last snapshot</strong> (<code>" not in get_table(staff_client, sort="name")


def test_near_limit_filter_uses_the_last_snapshot(staff_client, many):
    html = get_table(staff_client, near="1")
    # 80 % of 1000: brands 800+ only; none here (at most 119 keys).
    assert "No brand matches." in html
    hot = make_brands(3, prefix="hot")
    UsageSnapshot.objects.filter(brand__in=hot, taken_at=TAKEN).update(live_keys=900)
    assert slugs_in_order(get_table(staff_client, near="1")) == ["hot0000", "hot0001", "hot0002"]


def test_quota_page_clamps_and_counts(many):
    page = quota_page(MonitorQuery(page=7))
    assert (page.number, page.num_pages, page.total, len(page.rows)) == (3, 3, 120, 20)
    assert (page.first_index, page.last_index) == (101, 120)
    assert quota_page(MonitorQuery(q="nothing")).num_pages == 1
    assert PER_PAGE == 50


def test_csv_exports_every_page(staff_client, many):
    text = staff_client.get(MONITOR, {"format": "csv", "page": "2"}).content.decode()
    assert len(text.strip().splitlines()) == 1 + 120


# ---------------------------------------------------------------- constant cost

VIEWS = [
    ({}, {}),
    ({"sort": "forecast", "dir": "asc"}, {"HTTP_HX_REQUEST": "true"}),
    ({"sort": "live_keys", "dir": "asc", "page": "2"}, {"HTTP_HX_REQUEST": "true"}),
    ({"sort": "name", "near": "1"}, {"HTTP_HX_REQUEST": "true"}),
    ({"sort": "refused_writes", "q": "p0"}, {}),
    ({"sort": "last_snapshot", "page": "999"}, {"HTTP_HX_REQUEST": "true"}),
]


def cost(client, monkeypatch) -> list[tuple[int, int, int]]:
    """(queries, pipelines, other Redis commands) per view."""
    figures = []
    for params, headers in VIEWS:
        with CaptureQueriesContext(connection) as queries, count_redis_calls(monkeypatch) as redis_calls:
            assert client.get(MONITOR, params, **headers).status_code == 200
        figures.append((len(queries), redis_calls.pipelines, redis_calls.commands))
    return figures


def test_queries_and_pipelines_do_not_grow_with_brands(staff_client, monkeypatch):
    make_brands(30)
    staff_client.get(MONITOR)  # scripts loaded
    small = cost(staff_client, monkeypatch)
    make_brands(270, prefix="q")
    assert Brand.objects.count() == 300
    big = cost(staff_client, monkeypatch)
    assert small == big
    # session, user, count, the page's ids, the page's rows; one pipeline for the rows shown.
    # The "near" view matches no brand here (at most 30 % used): no rows to read, no pipeline.
    # Whole pages (not htmx swaps of the table) add the alerts section's three queries.
    assert [queries for queries, _, _ in big] == [5 + 3, 5, 5, 4, 5 + 3, 5]
    assert [pipelines for _, pipelines, _ in big] == [1, 1, 1, 0, 1, 1]
