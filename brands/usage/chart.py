"""The usage page's chart: a brand's key count over time from its UsageSnapshot rows, with the
geometry worked out here so that the template only draws."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from brands.models import Brand, UsageSnapshot

PERIODS: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
PERIOD_LABELS = {"24h": "24 hours", "7d": "7 days", "30d": "30 days"}
DEFAULT_PERIOD = "7d"

# A cron job every five minutes gives 8,640 snapshots in 30 days; more points than pixels only
# make the SVG heavy, so longer series are reduced to the maximum of each bucket.
MAX_CHART_POINTS = 360
# Individual point markers (with a hover title) only while they stay readable.
MAX_MARKERS = 60


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    taken_at: datetime
    live_keys: int


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str
    moment: datetime | None = None  # x ticks: the time, which the browser labels in its own zone


class PlotArea:
    """The drawing area of an SVG chart, in user units (the SVG scales to its container with
    viewBox): each chart class gives its size and margins as dataclass fields."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int

    @property
    def plot_right(self) -> int:
        return self.width - self.right

    @property
    def plot_bottom(self) -> int:
        return self.height - self.bottom


@dataclass
class UsageChart(PlotArea):
    period: str
    start: datetime
    end: datetime
    max_keys: int
    has_any_snapshot: bool
    points: list[ChartPoint] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    limit_y: float = 0.0
    snapshot_count: int = 0

    # The drawing area, in SVG user units (the SVG scales to its container with viewBox).
    width: int = 720
    height: int = 260
    left: int = 64
    right: int = 16
    top: int = 16
    bottom: int = 36

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)

    @property
    def area(self) -> str:
        if not self.points:
            return ""
        base = self.plot_bottom
        return f"{self.points[0].x:.1f},{base} {self.polyline} {self.points[-1].x:.1f},{base}"

    @property
    def show_markers(self) -> bool:
        return len(self.points) <= MAX_MARKERS

    @property
    def latest(self) -> ChartPoint | None:
        return self.points[-1] if self.points else None

    @property
    def peak(self) -> int:
        return max((p.live_keys for p in self.points), default=0)


def _nice_step(span: float, target_ticks: int = 5) -> int:
    """A 1/2/5 x 10^n step giving about ``target_ticks`` gridlines over ``span``."""
    raw = max(span / target_ticks, 1.0)
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if multiple * magnitude >= raw:
            return int(multiple * magnitude)
    return int(10 * magnitude)


def _downsample(rows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    if len(rows) <= MAX_CHART_POINTS:
        return rows
    size = math.ceil(len(rows) / MAX_CHART_POINTS)
    # The bucket's peak, not its average: a chart of usage against a limit must not hide a spike.
    return [max(rows[i:i + size], key=lambda row: row[1]) for i in range(0, len(rows), size)]


def _window_rows(brand: Brand, start: datetime, end: datetime) -> list[tuple[int, int]]:
    """(snapshot id, live keys) in time order. Ids, not times: a week of five-minute snapshots
    is 2,016 rows, and turning each one's time into a datetime took more than half of the usage
    page's time (issue 12); only the points drawn get their time (``_with_times``)."""
    return list(
        UsageSnapshot.objects.filter(brand=brand, taken_at__gte=start, taken_at__lte=end)
        .order_by("taken_at")
        .values_list("pk", "live_keys")
    )


def _with_times(rows: list[tuple[int, int]]) -> list[tuple[datetime, int]]:
    times = dict(UsageSnapshot.objects.filter(pk__in=[pk for pk, _ in rows]).values_list("pk", "taken_at"))
    return [(times[pk], live) for pk, live in rows if pk in times]


def _x_label(moment: datetime, period: str) -> str:
    local = timezone.localtime(moment)
    if period == "24h":
        return local.strftime("%H:%M")
    return local.strftime("%b %d")


def usage_chart(brand: Brand, period: str = DEFAULT_PERIOD, *, now: datetime | None = None) -> UsageChart:
    """Key count over ``period`` ("24h", "7d" or "30d"; anything else means the default)."""
    if period not in PERIODS:
        period = DEFAULT_PERIOD
    end = now or timezone.now()
    start = end - PERIODS[period]
    rows = _window_rows(brand, start, end)
    max_keys = brand.quota.max_keys
    chart = UsageChart(
        period=period,
        start=start,
        end=end,
        max_keys=max_keys,
        # Only asked when the window is empty: "no snapshots at all" and "none lately" read
        # differently on the page.
        has_any_snapshot=bool(rows) or UsageSnapshot.objects.filter(brand=brand).exists(),
        snapshot_count=len(rows),
    )

    peak = max((live for _, live in rows), default=0)
    # The limit line is always inside the chart: headroom is what the chart is for.
    step = _nice_step(max(max_keys, peak) * 1.05)
    y_max = step * math.ceil(max(max_keys, peak, 1) * 1.05 / step)
    plot_w = chart.plot_right - chart.left
    plot_h = chart.plot_bottom - chart.top
    total_seconds = (end - start).total_seconds()

    def x_of(moment: datetime) -> float:
        return chart.left + (moment - start).total_seconds() / total_seconds * plot_w

    def y_of(value: float) -> float:
        return chart.top + plot_h - value / y_max * plot_h

    chart.points = [
        ChartPoint(x=x_of(taken_at), y=y_of(live), taken_at=taken_at, live_keys=live)
        for taken_at, live in _with_times(_downsample(rows))
    ]
    chart.y_ticks = [Tick(pos=y_of(value), label=f"{value:,}") for value in range(0, y_max + 1, step)]
    chart.x_ticks = [
        Tick(pos=x_of(moment), label=_x_label(moment, period), moment=moment)
        for moment in (start + (end - start) * i / 4 for i in range(5))
    ]
    chart.limit_y = y_of(max_keys)
    return chart
