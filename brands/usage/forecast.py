"""When a brand reaches its key limit at the recent trend: a least-squares line through the live
key counts of its usage snapshots of the last 7 days.

The line comes from five sums per brand (n, Σx, Σy, Σxx, Σxy, x in days), which the database
adds up in one aggregate query for any number of brands: ``record_usage`` fits every brand at
once and stores the date on the new snapshot (``UsageSnapshot.limit_at``, what the staff monitor
shows and sorts by); the usage page fits its one brand when it is shown.

No forecast (``reaches_at`` None, ``reason`` says why) when:

- there is too little data: fewer than ``MIN_SNAPSHOTS`` snapshots in the window, or they span
  less than ``MIN_SPAN`` (a few points an hour apart say more about the time of day than about
  a trend);
- the trend is flat or falling (the line does not rise);
- the line reaches the limit only after ``HORIZON`` (a trend that slow is as good as flat);
- the brand is at or over its limit already (the usage level says so).

A line that is already past the limit while the live count is still below it (the latest
snapshots fell below the trend) gives "now": at this rate the limit is due.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, FloatField, Func, Max, Min, Sum, Value
from django.utils import timezone

from brands.models import UsageSnapshot

WINDOW = timedelta(days=7)
MIN_SNAPSHOTS = 6
MIN_SPAN = timedelta(hours=6)
HORIZON = timedelta(days=365)

REASON_TOO_LITTLE = "too little data"
REASON_NOT_GROWING = "not growing"
REASON_BEYOND_HORIZON = "not within a year"
REASON_REACHED = "limit reached"

# Plain words for a forecast that is not given, after "No forecast: ".
REASON_TEXT = {
    REASON_TOO_LITTLE: (
        f"too little data (at least {MIN_SNAPSHOTS} snapshots over "
        f"{MIN_SPAN.total_seconds() / 3600:.0f} hours in the last {WINDOW.days} days are needed)"
    ),
    REASON_NOT_GROWING: f"the key count is flat or falling over the last {WINDOW.days} days",
    REASON_BEYOND_HORIZON: f"at this rate the limit is more than {HORIZON.days} days away",
    REASON_REACHED: "the brand is at its key limit already",
}


@dataclass(frozen=True)
class TrendSums:
    """What a least-squares line needs, x in days since ``origin``; sums of two series add up."""

    origin: datetime
    n: int = 0
    sx: float = 0.0
    sy: float = 0.0
    sxx: float = 0.0
    sxy: float = 0.0
    first: datetime | None = None
    last: datetime | None = None

    def add(self, taken_at: datetime, live_keys: int) -> TrendSums:
        x = (taken_at - self.origin).total_seconds() / 86400
        return TrendSums(
            origin=self.origin, n=self.n + 1, sx=self.sx + x, sy=self.sy + live_keys,
            sxx=self.sxx + x * x, sxy=self.sxy + x * live_keys,
            first=min(filter(None, (self.first, taken_at))), last=max(filter(None, (self.last, taken_at))),
        )

    @classmethod
    def of(cls, origin: datetime, points: Iterable[tuple[datetime, int]]) -> TrendSums:
        sums = cls(origin=origin)
        for taken_at, live_keys in points:
            sums = sums.add(taken_at, live_keys)
        return sums


@dataclass(frozen=True)
class Forecast:
    reaches_at: datetime | None
    reason: str = ""  # why there is no date ("" when there is one)
    per_day: float | None = None  # the trend in keys per day, when there was enough data
    snapshots: int = 0

    @property
    def reason_text(self) -> str:
        return REASON_TEXT.get(self.reason, "")

    def words(self, now: datetime | None = None) -> str:
        """"in about 4 days": the time left, rounded the way people say it."""
        if self.reaches_at is None:
            return ""
        return time_left_words(self.reaches_at - (now or timezone.now()))


def time_left_words(left: timedelta) -> str:
    hours = left.total_seconds() / 3600
    if hours < 1:
        return "within the hour"
    if hours < 36:
        count, unit = round(hours), "hour"
    elif hours < 60 * 24:
        count, unit = round(hours / 24), "day"
    else:
        count, unit = round(hours / 24 / 30.44), "month"
    return f"in about {count} {unit}{'s' if count != 1 else ''}"


def forecast_from_sums(sums: TrendSums, *, max_keys: int, live_keys: int, now: datetime) -> Forecast:
    if sums.n < MIN_SNAPSHOTS or sums.first is None or sums.last - sums.first < MIN_SPAN:
        return Forecast(None, REASON_TOO_LITTLE, snapshots=sums.n)
    # Centred sums: no cancellation between two large numbers.
    sxx = sums.sxx - sums.sx * sums.sx / sums.n
    sxy = sums.sxy - sums.sx * sums.sy / sums.n
    per_day = sxy / sxx if sxx > 0 else 0.0
    if live_keys >= max_keys:
        return Forecast(None, REASON_REACHED, per_day=per_day, snapshots=sums.n)
    if per_day <= 0:
        return Forecast(None, REASON_NOT_GROWING, per_day=per_day, snapshots=sums.n)
    mean_x, mean_y = sums.sx / sums.n, sums.sy / sums.n
    reaches_at = sums.origin + timedelta(days=mean_x + (max_keys - mean_y) / per_day)
    if reaches_at - now > HORIZON:
        return Forecast(None, REASON_BEYOND_HORIZON, per_day=per_day, snapshots=sums.n)
    return Forecast(max(reaches_at, now), per_day=per_day, snapshots=sums.n)


class _EpochDays(Func):
    """Days since 1970-01-01 UTC of a datetime column, as a float (database specific)."""

    output_field = FloatField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="(julianday(%(expressions)s) - 2440587.5)", **extra)

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="(EXTRACT(EPOCH FROM %(expressions)s) / 86400.0)",
                           **extra)

    def as_mysql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="(UNIX_TIMESTAMP(%(expressions)s) / 86400.0)",
                           **extra)


def window_sums(brand_ids: Iterable[int] | None, *, now: datetime) -> dict[int, TrendSums]:
    """{brand id: TrendSums} over the snapshots of the last ``WINDOW`` up to ``now`` of the
    given brands (None: every brand, without a list of ids in the SQL), in one aggregate query
    whatever the number of brands (brands without snapshots are absent)."""
    origin = now - WINDOW
    origin_days = origin.timestamp() / 86400
    x = _EpochDays("taken_at") - Value(origin_days, output_field=FloatField())
    snapshots = UsageSnapshot.objects.filter(taken_at__gte=origin, taken_at__lte=now)
    if brand_ids is not None:
        snapshots = snapshots.filter(brand_id__in=list(brand_ids))
    rows = (
        snapshots
        .order_by()
        .values("brand_id")
        .annotate(
            n=Count("id"), sx=Sum(x), sy=Sum("live_keys"),
            sxx=Sum(x * x, output_field=FloatField()), sxy=Sum(x * F("live_keys"), output_field=FloatField()),
            first=Min("taken_at"), last=Max("taken_at"),
        )
    )
    return {
        row["brand_id"]: TrendSums(origin=origin, n=row["n"], sx=float(row["sx"]), sy=float(row["sy"]),
                                   sxx=float(row["sxx"]), sxy=float(row["sxy"]), first=row["first"],
                                   last=row["last"])
        for row in rows
    }


def brand_forecast(brand, *, live_keys: int, now: datetime | None = None) -> Forecast:
    """The usage page's forecast: the brand's snapshots of the last 7 days against its current
    limit, and its live count now. One query."""
    now = now or timezone.now()
    sums = window_sums([brand.pk], now=now).get(brand.pk, TrendSums(origin=now - WINDOW))
    return forecast_from_sums(sums, max_keys=brand.quota.max_keys, live_keys=live_keys, now=now)
