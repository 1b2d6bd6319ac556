"""The usage page's operations section from a known history (brands/usage/ops.py): totals,
ratios, bar geometry, the current hour's rate over the minutes it has had."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from brands.cache import HotKey, OpsHistory
from brands.usage.ops import bar_chart, breakdown, report_from_history

NOW = 3600 * 498_889 + 25 * 60 + 30  # 25 minutes 30 s into an hour (Redis clock, epoch s)


def history() -> OpsHistory:
    minutes = [{} for _ in range(60)]
    minutes[-1] = {"script:read_hit": 3, "script:read_miss": 1, "dashboard:write": 2,
                   "script:refused_op_budget": 4}
    minutes[-3] = {"dashboard:read_miss": 2}
    hours = [{} for _ in range(24)]
    hours[-1] = {"script:read_hit": 3, "script:read_miss": 1, "dashboard:read_miss": 2, "dashboard:write": 2,
                 "script:refused_op_budget": 4}
    hours[0] = {"dashboard:read_hit": 120}
    return OpsHistory(now_s=NOW, minutes=minutes, hours=hours,
                      hot_reads=[HotKey("a", 3)], hot_writes=[HotKey("b", 2)])


def test_breakdown_by_kind_source_and_reason():
    result = breakdown(history().minutes)
    assert result.total == 12 and result.reads == 6 and result.hits == 3
    assert result.hit_ratio_text == "50.0 %"
    rows = {label: (per_source, total) for label, per_source, total in result.rows}
    assert rows["Reads, miss"] == ({"script": 1, "dashboard": 2}, 3)
    assert rows["Writes"] == ({"script": 0, "dashboard": 2}, 2)
    refusals = {label: total for label, _, total in result.refusals}
    assert refusals == {"Key limit": 0, "Value size": 0, "Invalid key": 0, "Operation budget": 4}
    assert breakdown([{}]).hit_ratio_text == "no reads"


def test_hour_window_bars_and_ratios():
    report = report_from_history(history())
    hour = report.windows[0]
    assert [bar.value for bar in hour.ops_chart.bars] == [2.0, 10.0]  # empty minutes draw nothing
    tallest = hour.ops_chart.bars[-1]
    assert tallest.height == pytest.approx(hour.ops_chart.plot_bottom - hour.ops_chart.top)  # axis top 10
    assert tallest.start == datetime.fromtimestamp(NOW - NOW % 60, UTC)
    assert [bar.text for bar in hour.ratio_chart.bars] == ["0.0 %", "75.0 %"]
    ratio = hour.ratio_chart
    assert ratio.bars[1].height == pytest.approx(0.75 * (ratio.plot_bottom - ratio.top))
    assert [tick.label for tick in hour.ratio_chart.y_ticks] == ["0 %", "50 %", "100 %"]
    assert report.hot_reads == [HotKey("a", 3)] and report.hot_lists[1][1] == [HotKey("b", 2)]


def test_day_window_rates_per_minute():
    day = report_from_history(history()).windows[1]
    # A full past hour: its count over 60 minutes; the current one over the 26 it has had.
    assert [bar.value for bar in day.ops_chart.bars] == [2.0, pytest.approx(12 / 26)]
    assert day.breakdown.total == 132


def test_axis_top_is_a_round_number():
    chart = bar_chart("t", "ops/min", [3.0, 7.0], [datetime(2026, 11, 30, tzinfo=UTC)] * 2, label_every=1,
                      time_format="%H:%M")
    assert [tick.label for tick in chart.y_ticks] == ["0", "5", "10"]
