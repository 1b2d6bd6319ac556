"""The staff quota monitor's rows: every brand's usage against its limit.

A constant amount of work whatever the number of brands: one database query (brands, quotas and
the last snapshot time through a correlated subquery on the (brand, -taken_at) index) and one
Redis pipeline (``brands_usage``). Sorting by live figures happens here, after both are in.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Q, Subquery

from brands.csvsafe import csv_cell as _cell
from brands.models import Brand, UsageSnapshot
from brands.usage.levels import WARNING_PERCENT, BrandUsage, brands_usage, percent_value

SORT_FIELDS = ("slug", "name", "live_keys", "max_keys", "percent", "refused_writes", "last_snapshot")
DEFAULT_SORT = "percent"
DEFAULT_DIRECTION = "desc"


@dataclass(frozen=True)
class QuotaRow:
    brand: Brand
    usage: BrandUsage
    last_snapshot: datetime | None

    # The sortable fields, by name (MonitorQuery.sort).
    @property
    def slug(self) -> str:
        return self.brand.slug

    @property
    def name(self) -> str:
        return self.brand.name

    @property
    def live_keys(self) -> int:
        return self.usage.live_keys

    @property
    def max_keys(self) -> int:
        return self.usage.max_keys

    @property
    def percent(self) -> float:
        return self.usage.percent

    @property
    def refused_writes(self) -> int:
        return self.usage.refused_writes


@dataclass(frozen=True)
class MonitorQuery:
    """The monitor's query string, parsed and made safe (unknown values fall back to defaults)."""

    q: str = ""
    near_limit: bool = False
    sort: str = DEFAULT_SORT
    direction: str = DEFAULT_DIRECTION

    @classmethod
    def from_params(cls, params) -> MonitorQuery:
        sort = params.get("sort", DEFAULT_SORT)
        direction = params.get("dir", DEFAULT_DIRECTION)
        return cls(
            q=params.get("q", "").strip()[:100],
            near_limit=params.get("near") in {"1", "on", "true"},
            sort=sort if sort in SORT_FIELDS else DEFAULT_SORT,
            direction=direction if direction in {"asc", "desc"} else DEFAULT_DIRECTION,
        )

    def params(self, **changes) -> dict[str, str]:
        """Query parameters for a link to this view of the monitor with ``changes`` applied."""
        values = {"q": self.q, "near": "1" if self.near_limit else "", "sort": self.sort,
                  "dir": self.direction}
        values.update(changes)
        return {key: value for key, value in values.items() if value}


def _brands(query: MonitorQuery) -> list[Brand]:
    last_taken = (
        UsageSnapshot.objects.filter(brand=OuterRef("pk")).order_by("-taken_at").values("taken_at")[:1]
    )
    brands = Brand.objects.select_related("quota").annotate(last_snapshot=Subquery(last_taken))
    if query.q:
        brands = brands.filter(Q(slug__icontains=query.q) | Q(name__icontains=query.q))
    return list(brands.order_by("slug"))


def _sorted(rows: list[QuotaRow], sort: str, direction: str) -> list[QuotaRow]:
    # Rows without a value (a brand never snapshotted) go last in either direction; ties keep
    # slug order, so the table does not reshuffle between refreshes.
    present = [row for row in rows if getattr(row, sort) is not None]
    missing = [row for row in rows if getattr(row, sort) is None]

    def key(row: QuotaRow):
        value = getattr(row, sort)
        return value.lower() if isinstance(value, str) else value

    present.sort(key=key, reverse=direction == "desc")
    return present + missing


def quota_rows(query: MonitorQuery | None = None) -> list[QuotaRow]:
    """Rows for the monitor; raises CacheUnavailable when Redis is down."""
    query = query or MonitorQuery()
    brands = _brands(query)
    usage = brands_usage(brands)
    rows = [QuotaRow(brand=brand, usage=usage[brand.pk], last_snapshot=brand.last_snapshot)
            for brand in brands]
    if query.near_limit:
        rows = [row for row in rows if row.percent >= WARNING_PERCENT]
    return _sorted(rows, query.sort, query.direction)


def quota_csv(rows: Iterable[QuotaRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["slug", "name", "active", "live_keys", "max_keys", "percent", "level", "refused_writes",
                     "last_snapshot"])
    for row in rows:
        writer.writerow([
            _cell(row.slug), _cell(row.name), "yes" if row.brand.is_active else "no", row.live_keys,
            row.max_keys, f"{percent_value(row.percent):.1f}", row.usage.word or "ok", row.refused_writes,
            row.last_snapshot.isoformat() if row.last_snapshot else "",
        ])
    return out.getvalue()
