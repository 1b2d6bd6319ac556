"""The usage chart's geometry (brands/usage/chart.py), against hand-computed figures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from brands.models import UsageSnapshot
from brands.usage import MAX_CHART_POINTS, usage_chart

# The drawing area of UsageChart: x from 64 to 704 (640 units), y from 16 (top) to 224 (bottom).
LEFT, PLOT_W, TOP, BOTTOM = 64, 640, 16, 224


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


def snapshot(brand, taken_at, live):
    UsageSnapshot.objects.create(brand=brand, taken_at=taken_at, live_keys=live,
                                 max_keys=brand.quota.max_keys)


def test_points_ticks_and_limit_line_where_they_belong(brand_factory, now):
    brand = brand_factory(max_keys=100)
    start = now - timedelta(hours=24)
    snapshot(brand, start + timedelta(hours=12), 50)
    snapshot(brand, now, 100)

    chart = usage_chart(brand, "24h", now=now)

    # Headroom: the axis ends at the first "nice" step above 105 % of the limit: steps of 50, top 150.
    assert [tick.label for tick in chart.y_ticks] == ["0", "50", "100", "150"]
    assert [round(tick.pos, 3) for tick in chart.y_ticks] == [224, 154.667, 85.333, 16]
    assert round(chart.limit_y, 3) == 85.333
    middle, last = chart.points
    assert (round(middle.x, 3), round(middle.y, 3)) == (LEFT + PLOT_W / 2, 154.667)
    assert (round(last.x, 3), round(last.y, 3)) == (LEFT + PLOT_W, 85.333)
    assert chart.polyline == "384.0,154.7 704.0,85.3"
    assert chart.area == "384.0,224 384.0,154.7 704.0,85.3 704.0,224"
    assert [round(tick.pos) for tick in chart.x_ticks] == [64, 224, 384, 544, 704]
    assert chart.peak == 100 and chart.latest is last and chart.show_markers


def test_peak_above_the_limit_raises_the_axis(brand_factory, now):
    brand = brand_factory(max_keys=100)
    snapshot(brand, now - timedelta(hours=1), 430)  # a limit lowered below the live count
    chart = usage_chart(brand, "24h", now=now)
    assert chart.y_ticks[-1].label == "500"  # 430 x 1.05 = 451.5 -> steps of 100
    assert chart.points[0].y > TOP and chart.limit_y < BOTTOM


def test_window_and_unknown_period(brand, now):
    snapshot(brand, now - timedelta(days=3), 1)
    assert usage_chart(brand, "24h", now=now).points == []
    assert usage_chart(brand, "24h", now=now).has_any_snapshot is True
    chart = usage_chart(brand, "nonsense", now=now)
    assert chart.period == "7d" and chart.start == now - timedelta(days=7)
    assert len(chart.points) == 1


def test_no_snapshot_at_all(brand, now):
    chart = usage_chart(brand, "30d", now=now)
    assert chart.points == [] and chart.has_any_snapshot is False and chart.area == ""


def test_long_series_is_reduced_keeping_peaks(brand, now):
    UsageSnapshot.objects.bulk_create(
        UsageSnapshot(brand=brand, taken_at=now - timedelta(minutes=5 * i), live_keys=7, max_keys=50_000)
        for i in range(2000)
    )
    spike = UsageSnapshot.objects.filter(brand=brand).order_by("taken_at")[1000]
    spike.live_keys = 4321
    spike.save()
    chart = usage_chart(brand, "7d", now=now)
    assert chart.snapshot_count == 2000
    assert len(chart.points) <= MAX_CHART_POINTS
    assert chart.peak == 4321
    assert not chart.show_markers
