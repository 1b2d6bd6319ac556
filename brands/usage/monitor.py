"""The staff quota monitor's rows: every brand's usage against its limit, a page at a time.

A constant amount of work whatever the number of brands, and little of it at 10,000 brands:

- Sorting, the near-limit filter and paging happen in the database, on each brand's **last
  snapshot** (live keys, refused writes, the forecast ``limit_at``; ``record_usage``): counting
  every brand live would be one Redis pipeline of two calls per brand, ~0.3 s at 10,000 brands
  on every view, stalling Redis meanwhile. Three queries: the page's ids in order, the count, and
  the page's brands with their quota and last-snapshot figures (correlated subqueries on the
  (brand, -taken_at) index; the sort key alone is computed for every brand).
- The rows shown carry **live** figures: one Redis pipeline for the page's brands only.

The CSV export is every matching brand in the same order, each with live figures (one pipeline
for all of them: an export may take a moment, a page view should not).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, FloatField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Cast, NullIf

from brands.csvsafe import csv_cell as _cell
from brands.models import Brand, UsageSnapshot
from brands.usage.levels import WARNING_PERCENT, BrandUsage, brands_usage, percent_value

PER_PAGE = 50
MAX_PAGE = 1_000_000  # beyond any real monitor; keeps a forged page number from meaning anything
DEFAULT_SORT = "percent"
DEFAULT_DIRECTION = "desc"

# Sort name -> the database expression it orders by. "live" and "snapshot" say where the
# figure comes from (the page says it too).
SORT_FIELDS = {
    "slug": "slug",
    "name": "name",
    "max_keys": "quota__max_keys",
    "live_keys": "snapshot_live",  # at the last snapshot
    "percent": "snapshot_percent",  # last snapshot's live keys against the current limit
    "refused_writes": "snapshot_refused",  # at the last snapshot
    "last_snapshot": "last_snapshot",
    "forecast": "limit_at",  # "reaches limit soonest": the forecast of the last snapshot
}
# Sorted by their last snapshot, not by the live figures the rows show.
SNAPSHOT_SORTS = frozenset({"live_keys", "percent", "refused_writes", "forecast"})


@dataclass(frozen=True)
class QuotaRow:
    brand: Brand
    usage: BrandUsage  # live, from Redis
    last_snapshot: datetime | None
    limit_at: datetime | None = None  # the forecast recorded with the last snapshot

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
    page: int = 1

    @classmethod
    def from_params(cls, params) -> MonitorQuery:
        sort = params.get("sort", DEFAULT_SORT)
        direction = params.get("dir", DEFAULT_DIRECTION)
        page = params.get("page", "")
        return cls(
            q=params.get("q", "").strip()[:100],
            near_limit=params.get("near") in {"1", "on", "true"},
            sort=sort if sort in SORT_FIELDS else DEFAULT_SORT,
            direction=direction if direction in {"asc", "desc"} else DEFAULT_DIRECTION,
            page=_page_number(page),
        )

    def params(self, **changes) -> dict[str, str]:
        """Query parameters for a link to this view of the monitor with ``changes`` applied;
        the first page has no ``page`` parameter."""
        values = {"q": self.q, "near": "1" if self.near_limit else "", "sort": self.sort,
                  "dir": self.direction, "page": str(self.page) if self.page > 1 else ""}
        values.update(changes)
        if str(values["page"]) == "1":
            values["page"] = ""
        return {key: str(value) for key, value in values.items() if value}

    @property
    def sorted_by_snapshot(self) -> bool:
        return self.sort in SNAPSHOT_SORTS


@dataclass(frozen=True)
class MonitorPage:
    rows: list[QuotaRow]
    number: int  # 1-based, after clamping to the last page
    total: int  # brands matching the filters
    per_page: int = PER_PAGE

    @property
    def num_pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.number * self.per_page, self.total)


def _page_number(text: str) -> int:
    # Digits only ("1e3", "-2", " 3", "²" are not page numbers); 0 is the first page; a number
    # too long to be a page (int() refuses thousands of digits) is the last one.
    if not (text.isascii() and text.isdigit()):
        return 1
    if len(text) > len(str(MAX_PAGE)):
        return MAX_PAGE
    return min(max(int(text), 1), MAX_PAGE)


def _latest(field: str) -> Subquery:
    return Subquery(
        UsageSnapshot.objects.filter(brand=OuterRef("pk")).order_by("-taken_at").values(field)[:1]
    )


# Annotation name -> the field of the brand's last snapshot it reads.
LATEST = {"last_snapshot": "taken_at", "snapshot_live": "live_keys", "snapshot_refused": "refused_writes",
          "limit_at": "limit_at"}


def _matching(query: MonitorQuery, *fields: str) -> QuerySet:
    """Brands matching the filters, annotated with the last-snapshot ``fields`` needed (each is
    a correlated subquery, computed for every brand the query looks at)."""
    needed = set(fields)
    if query.near_limit or "snapshot_percent" in needed:
        needed.add("snapshot_live")
    brands = Brand.objects.annotate(**{name: _latest(field) for name, field in LATEST.items()
                                       if name in needed})
    if "snapshot_live" in needed:
        brands = brands.annotate(snapshot_percent=Cast(F("snapshot_live"), FloatField()) * 100.0
                                 / NullIf(F("quota__max_keys"), 0))
    if query.q:
        brands = brands.filter(Q(slug__icontains=query.q) | Q(name__icontains=query.q))
    if query.near_limit:
        brands = brands.filter(snapshot_percent__gte=WARNING_PERCENT)
    return brands


def _ordered(brands: QuerySet, query: MonitorQuery) -> QuerySet:
    # Brands without a value (never snapshotted, no forecast) go last in either direction; ties
    # keep slug order, so the table does not reshuffle between refreshes.
    column = F(SORT_FIELDS[query.sort])
    order = column.desc(nulls_last=True) if query.direction == "desc" else column.asc(nulls_last=True)
    return brands.order_by(order, "slug")


def _rows(brands: list[Brand]) -> list[QuotaRow]:
    usage = brands_usage(brands)
    return [QuotaRow(brand=brand, usage=usage[brand.pk], last_snapshot=brand.last_snapshot,
                     limit_at=brand.limit_at) for brand in brands]


def quota_page(query: MonitorQuery | None = None, *, per_page: int = PER_PAGE) -> MonitorPage:
    """One page of the monitor: three queries and one Redis pipeline (for the page's brands),
    whatever the number of brands. A page past the last one gives the last page. Raises
    CacheUnavailable when Redis is down."""
    query = query or MonitorQuery()
    sort_field = SORT_FIELDS[query.sort]
    total = _matching(query).count()
    pages = max(1, math.ceil(total / per_page))
    number = min(query.page, pages)
    offset = (number - 1) * per_page
    # Only the sort key is computed for every brand; the page's other figures for its rows only.
    ordered = _ordered(_matching(query, sort_field), query)
    ids = list(ordered.values_list("pk", flat=True)[offset:offset + per_page])
    by_id = {brand.pk: brand for brand in
             _matching(MonitorQuery(), *LATEST).select_related("quota").filter(pk__in=ids)}
    return MonitorPage(rows=_rows([by_id[pk] for pk in ids if pk in by_id]), number=number, total=total,
                       per_page=per_page)


def quota_rows(query: MonitorQuery | None = None) -> list[QuotaRow]:
    """Every brand matching the filters, in the monitor's order, with live figures (the CSV
    export): one query and one Redis pipeline. Raises CacheUnavailable when Redis is down."""
    query = query or MonitorQuery()
    return _rows(list(_ordered(_matching(query, *LATEST).select_related("quota"), query)))


def quota_csv(rows: Iterable[QuotaRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["slug", "name", "active", "live_keys", "max_keys", "percent", "level", "refused_writes",
                     "last_snapshot", "limit_forecast"])
    for row in rows:
        writer.writerow([
            _cell(row.slug), _cell(row.name), "yes" if row.brand.is_active else "no", row.live_keys,
            row.max_keys, f"{percent_value(row.percent):.1f}", row.usage.word or "ok", row.refused_writes,
            row.last_snapshot.isoformat() if row.last_snapshot else "",
            row.limit_at.isoformat() if row.limit_at else "",
        ])
    return out.getvalue()
