"""The staff monitor's query, rows, sorting and CSV (brands/usage/monitor.py), without a view."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from django.http import QueryDict

from brands.cache import BrandCache
from brands.models import Brand, UsageSnapshot
from brands.usage import BrandUsage, MonitorQuery, QuotaRow, quota_csv, quota_rows


@pytest.mark.parametrize(
    ("query_string", "expected"),
    [
        ("", MonitorQuery(q="", near_limit=False, sort="percent", direction="desc")),
        ("q=+acme+&near=1&sort=slug&dir=asc", MonitorQuery(q="acme", near_limit=True, sort="slug",
                                                           direction="asc")),
        ("near=on&sort=last_snapshot", MonitorQuery(near_limit=True, sort="last_snapshot")),
        # Forged values fall back to the defaults instead of failing or reaching the ORM.
        ("sort=__class__&dir=sideways&near=yes", MonitorQuery()),
        ("q=" + "x" * 500, MonitorQuery(q="x" * 100)),
        ("page=3&sort=forecast&dir=asc", MonitorQuery(page=3, sort="forecast", direction="asc")),
        ("page=0", MonitorQuery()),
        ("page=x", MonitorQuery()),
        ("page=" + "7" * 5000, MonitorQuery(page=1_000_000)),
    ],
)
def test_query_from_params(query_string, expected):
    assert MonitorQuery.from_params(QueryDict(query_string)) == expected


def test_params_keep_the_view_and_drop_empty_values():
    query = MonitorQuery(q="ac", near_limit=True, sort="slug", direction="asc")
    assert query.params() == {"q": "ac", "near": "1", "sort": "slug", "dir": "asc"}
    assert query.params(sort="live_keys", dir="desc") == {"q": "ac", "near": "1", "sort": "live_keys",
                                                          "dir": "desc"}
    assert MonitorQuery().params() == {"sort": "percent", "dir": "desc"}
    # The page is kept, except the first; any change may reset it.
    assert MonitorQuery(page=4).params() == {"sort": "percent", "dir": "desc", "page": "4"}
    assert MonitorQuery(page=4).params(page=1) == {"sort": "percent", "dir": "desc"}
    assert MonitorQuery(page=4).params(page="") == {"sort": "percent", "dir": "desc"}


@pytest.fixture
def brands(brand_factory):
    """Three brands at 95 %, 50 % and 5 % of their limits, each with a snapshot that agrees
    (the monitor sorts by the last snapshot); "mid"'s is the oldest."""
    figures = {"high": (19, 20), "mid": (10, 20), "low": (5, 100)}
    made = {}
    for day, (slug, (live, limit)) in enumerate(figures.items(), start=2):
        brand = made[slug] = brand_factory(slug, max_keys=limit)
        service = BrandCache.for_brand(brand)
        for i in range(live):
            assert service.set(f"k{i}", i)
        UsageSnapshot.objects.create(brand=brand, taken_at=datetime(2026, 1, 1 if slug == "mid" else day,
                                                                     tzinfo=UTC),
                                     live_keys=live, max_keys=limit)
    return made


@pytest.mark.parametrize(
    ("sort", "direction", "order"),
    [
        ("percent", "desc", ["high", "mid", "low"]),
        ("percent", "asc", ["low", "mid", "high"]),
        ("live_keys", "desc", ["high", "mid", "low"]),
        ("max_keys", "desc", ["low", "high", "mid"]),  # ties keep slug order
        ("slug", "asc", ["high", "low", "mid"]),
        ("last_snapshot", "desc", ["low", "high", "mid"]),
        ("last_snapshot", "asc", ["mid", "high", "low"]),
    ],
)
def test_rows_sorted(brands, sort, direction, order):
    rows = quota_rows(MonitorQuery(sort=sort, direction=direction))
    assert [row.slug for row in rows] == order


def test_rows_carry_live_usage_and_filters_apply(brands):
    rows = {row.slug: row for row in quota_rows()}
    assert rows["high"].usage == BrandUsage(live_keys=19, max_keys=20, refused_writes=0)
    assert rows["high"].percent == 95.0 and rows["high"].usage.level == "critical"
    assert rows["mid"].last_snapshot == datetime(2026, 1, 1, tzinfo=UTC)
    assert [row.slug for row in quota_rows(MonitorQuery(near_limit=True))] == ["high"]
    assert [row.slug for row in quota_rows(MonitorQuery(q="LO"))] == ["low"]


def _row(slug, name, live=1, limit=10, refused=0, active=True):
    return QuotaRow(brand=Brand(slug=slug, name=name, is_active=active),
                    usage=BrandUsage(live_keys=live, max_keys=limit, refused_writes=refused),
                    last_snapshot=None)


def test_csv_columns_and_values():
    text = quota_csv([_row("a", "Alpha", live=1, limit=3, refused=2, active=False)])
    assert list(csv.reader(io.StringIO(text))) == [
        ["slug", "name", "active", "live_keys", "max_keys", "percent", "level", "refused_writes",
         "last_snapshot", "limit_forecast"],
        ["a", "Alpha", "no", "1", "3", "33.3", "ok", "2", "", ""],
    ]


@pytest.mark.parametrize("name", ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_csv_neutralises_formulas(name):
    rows = list(csv.reader(io.StringIO(quota_csv([_row("b", name)]))))
    assert rows[1][1] == "'" + name


def test_csv_keeps_ordinary_text():
    rows = list(csv.reader(io.StringIO(quota_csv([_row("c", 'Ünïcode, "quoted"')]))))
    assert rows[1][1] == 'Ünïcode, "quoted"'
