"""Operations per brand: the usage page's section (operations per minute and the hit ratio over
the last hour, one bar a minute, and the last day, one bar an hour; totals by kind, source and
refusal reason; the hot keys) and the /metrics counters, from the counters the cache service
keeps (brands.cache.opcounts). The SVG bar charts' geometry is worked out here so that the
template only draws."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client.core import CounterMetricFamily, Metric

from brands.cache import (
    OPERATION_KINDS,
    REFUSAL_REASONS,
    SOURCES,
    BrandCache,
    HotKey,
    OpsHistory,
    ops_history,
)
from brands.models import Brand
from brands.usage.chart import PlotArea, Tick

HOT_KEYS_SHOWN = 10
KIND_LABELS = {
    "read_hit": "Reads, hit",
    "read_miss": "Reads, miss",
    "write": "Writes",
    "exists": "setIfAbsent, key existed",
    "delete": "Deletions",
    "increment": "Increments",
}
REASON_LABELS = {
    "key_limit": "Key limit",
    "value_size": "Value size",
    "invalid_key": "Invalid key",
    "op_budget": "Operation budget",
}
SOURCE_LABELS = {"script": "Scripts", "dashboard": "Dashboard"}
# The key forms check the contract's rules before the cache is called (brands/forms.py); their
# error codes that are the cache's own refusals, counted as the cache would have.
FORM_REFUSALS = {("key", "invalid_key"): "refused_invalid_key", ("value", "too_large"): "refused_value_size"}


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    start: datetime  # the bucket's start (UTC), labelled in the browser's zone
    value: float  # what the bar shows (ops per minute, or the hit ratio in %)
    text: str  # the same, worded for the bar's title and the table


@dataclass
class BarChart(PlotArea):
    """One SVG bar chart (viewBox units; the SVG scales to its container)."""

    title: str
    unit: str
    bars: list[Bar] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    width: int = 720
    height: int = 180
    left: int = 56
    right: int = 12
    top: int = 12
    bottom: int = 30

    @property
    def has_data(self) -> bool:
        return any(bar.value > 0 for bar in self.bars)


@dataclass(frozen=True)
class Breakdown:
    """Operations of a window by kind and source, and refusals by reason and source."""

    rows: list[tuple[str, dict[str, int], int]]  # (label, {source: count}, total)
    refusals: list[tuple[str, dict[str, int], int]]
    total: int
    reads: int
    hits: int

    @property
    def hit_ratio_text(self) -> str:
        return "no reads" if not self.reads else f"{100 * self.hits / self.reads:.1f} %"


@dataclass(frozen=True)
class OpsWindow:
    key: str  # "hour" / "day"
    label: str
    ops_chart: BarChart
    ratio_chart: BarChart
    breakdown: Breakdown


@dataclass(frozen=True)
class OpsReport:
    windows: list[OpsWindow]
    hot_reads: list[HotKey]
    hot_writes: list[HotKey]
    sources: tuple[str, ...] = SOURCES

    @property
    def source_labels(self) -> list[str]:
        return [SOURCE_LABELS[source] for source in self.sources]

    @property
    def hot_lists(self) -> list[tuple[str, list[HotKey], str]]:
        return [("Most read", self.hot_reads, "Reads"), ("Most written", self.hot_writes, "Writes")]


def _total(row: dict[str, int], *kinds: str) -> int:
    return sum(row.get(f"{source}:{kind}", 0) for source in SOURCES for kind in kinds)


def _operations(row: dict[str, int]) -> int:
    """Calls the cache answered or refused: every counted field."""
    return sum(row.values())


def breakdown(rows: list[dict[str, int]]) -> Breakdown:
    merged: dict[str, int] = {}
    for row in rows:
        for name, count in row.items():
            merged[name] = merged.get(name, 0) + count

    def line(label: str, kind: str) -> tuple[str, dict[str, int], int]:
        per_source = {source: merged.get(f"{source}:{kind}", 0) for source in SOURCES}
        return label, per_source, sum(per_source.values())

    return Breakdown(
        rows=[line(KIND_LABELS[kind], kind) for kind in OPERATION_KINDS],
        refusals=[line(REASON_LABELS[reason], f"refused_{reason}") for reason in REFUSAL_REASONS],
        total=_operations(merged),
        reads=_total(merged, "read_hit", "read_miss"),
        hits=_total(merged, "read_hit"),
    )


def _nice_max(value: float) -> float:
    """The axis top: a 1/2/5 x 10^n at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for multiple in (1, 2, 5, 10):
        if multiple * magnitude >= value:
            return float(multiple * magnitude)
    return float(10 * magnitude)


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or value == int(value) else f"{value:,.1f}"


def bar_chart(title: str, unit: str, values: list[float | None], starts: list[datetime], *,
              label_every: int, time_format: str, y_max: float | None = None) -> BarChart:
    """Bars for ``values``, oldest first (None: no bar, a hit ratio without reads)."""
    chart = BarChart(title=title, unit=unit)
    top = y_max or _nice_max(max((v for v in values if v is not None), default=0))
    plot_w = chart.plot_right - chart.left
    plot_h = chart.plot_bottom - chart.top
    slot = plot_w / max(len(values), 1)
    width = max(slot * 0.8, 1.0)
    for index, (value, start) in enumerate(zip(values, starts, strict=True)):
        if value is None or (value == 0 and unit != "%"):
            continue  # no bar for an empty minute or hour; a 0 % ratio keeps its hover title
        height = value / top * plot_h
        text = f"{_number(value)} {unit}" if unit != "%" else f"{value:.1f} %"
        chart.bars.append(Bar(x=chart.left + index * slot + (slot - width) / 2, y=chart.plot_bottom - height,
                              width=width, height=height, start=start, value=value, text=text))
    chart.y_ticks = [Tick(pos=chart.plot_bottom - fraction * plot_h,
                          label=f"{_number(top * fraction)}{' %' if unit == '%' else ''}")
                     for fraction in (0, 0.5, 1)]
    chart.x_ticks = [
        Tick(pos=chart.left + index * slot + slot / 2, label=starts[index].strftime(time_format),
             moment=starts[index])
        for index in range(0, len(starts), label_every)
    ]
    return chart


def _ratio(row: dict[str, int]) -> float | None:
    reads = _total(row, "read_hit", "read_miss")
    return None if not reads else 100 * _total(row, "read_hit") / reads


def _window(key: str, label: str, rows: list[dict[str, int]], starts: list[datetime], per_minute: list[float],
            *, label_every: int, time_format: str, ops_title: str) -> OpsWindow:
    return OpsWindow(
        key=key, label=label,
        # Each chart's title names its window: it is the SVG's accessible name.
        ops_chart=bar_chart(f"{ops_title}, {label.lower()}", "ops/min", per_minute, starts,
                            label_every=label_every, time_format=time_format),
        ratio_chart=bar_chart(f"Hit ratio (reads that found their key), {label.lower()}", "%",
                              [_ratio(row) for row in rows], starts, label_every=label_every,
                              time_format=time_format, y_max=100),
        breakdown=breakdown(rows),
    )


def report_from_history(history: OpsHistory) -> OpsReport:
    minute, hour = history.minute_s, history.hour_s
    minute_starts = [datetime.fromtimestamp(minute - 60 * (len(history.minutes) - 1 - i), UTC)
                     for i in range(len(history.minutes))]
    hour_starts = [datetime.fromtimestamp(hour - 3600 * (len(history.hours) - 1 - i), UTC)
                   for i in range(len(history.hours))]
    # An hour's operations per minute: its count over the minutes it has had (the current hour
    # is not over yet; dividing it by 60 would understate it).
    elapsed = (history.now_s - hour) // 60 + 1
    hour_rates = [
        _operations(row) / (elapsed if index == len(history.hours) - 1 else 60)
        for index, row in enumerate(history.hours)
    ]
    return OpsReport(
        windows=[
            _window("hour", "Last hour", history.minutes, minute_starts,
                    [float(_operations(row)) for row in history.minutes], label_every=10,
                    time_format="%H:%M", ops_title="Operations per minute"),
            _window("day", "Last 24 hours", history.hours, hour_starts, hour_rates, label_every=4,
                    time_format="%H:%M", ops_title="Operations per minute (each hour's average)"),
        ],
        hot_reads=history.hot_reads,
        hot_writes=history.hot_writes,
    )


def ops_report(brand: Brand) -> OpsReport:
    """The operations section of ``brand``'s usage page: one round trip. Raises
    CacheUnavailable."""
    return report_from_history(ops_history(brand.pk, minutes=60, hours=24, top=HOT_KEYS_SHOWN))


def brands_ops_metrics(brands: list[Brand], totals: dict[int, dict[str, int]]) -> Iterator[Metric]:
    """/metrics: every brand's operations and refusals since its counters began (one pipeline for
    all brands, brands.cache.brands_ops_totals)."""
    operations = CounterMetricFamily(
        "cacheadmin_brand_operations",
        "Cache operations by source (script, dashboard) and outcome (read_hit, read_miss, write, "
        "exists: setIfAbsent found the key, delete, increment).",
        labels=["brand", "source", "op"],
    )
    refusals = CounterMetricFamily(
        "cacheadmin_brand_operation_refusals",
        "Cache calls refused, by source and reason (key_limit, value_size, invalid_key, op_budget).",
        labels=["brand", "source", "reason"],
    )
    for brand in brands:
        counts = totals.get(brand.pk, {})
        for source in SOURCES:
            for kind in OPERATION_KINDS:
                operations.add_metric([brand.slug, source, kind], counts.get(f"{source}:{kind}", 0))
            for reason in REFUSAL_REASONS:
                refusals.add_metric([brand.slug, source, reason], counts.get(f"{source}:refused_{reason}", 0))
    yield from (operations, refusals)


def count_form_refusals(cache: BrandCache, form) -> None:
    """A dashboard key form refused an invalid key or a value over the size limit before the
    cache saw it: counted like the cache's own refusal (once per reason and submission)."""
    errors = form.errors.as_data()
    for (field_name, code), kind in FORM_REFUSALS.items():
        if any(error.code == code for error in errors.get(field_name, [])):
            cache.count_op(kind)
