"""Usage against the key limit, the same on every page, CSV and metric: the one percentage, the
thresholds and the level names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from brands.cache import brands_live_counts

WARNING_PERCENT = 80.0
CRITICAL_PERCENT = 95.0


def percent_used(live_keys: int, max_keys: int) -> float:
    return 100.0 * live_keys / max_keys if max_keys else 0.0


def usage_level(percent: float) -> str:
    """"ok", "warning" (>= 80 %) or "critical" (>= 95 %): CSS classes on bars and badges."""
    if percent >= CRITICAL_PERCENT:
        return "critical"
    if percent >= WARNING_PERCENT:
        return "warning"
    return "ok"


def bar_percent(percent: float) -> float:
    """Width of a usage bar's fill: a limit lowered below the live count pushes the percentage
    past 100, and the bar then simply stays full."""
    return min(max(percent, 0.0), 100.0)


@dataclass(frozen=True)
class BrandUsage:
    """A brand's live keys against its limit, and its refused writes."""

    live_keys: int
    max_keys: int
    refused_writes: int

    @property
    def percent(self) -> float:
        return percent_used(self.live_keys, self.max_keys)

    @property
    def level(self) -> str:
        return usage_level(self.percent)

    @property
    def bar_percent(self) -> float:
        return bar_percent(self.percent)


def brands_usage(brands: Iterable) -> dict[int, BrandUsage]:
    """{brand id: BrandUsage} in one Redis pipeline (``brand.quota`` must be loaded); raises
    CacheUnavailable when Redis is down."""
    brands = list(brands)
    counts = brands_live_counts(brand.pk for brand in brands)
    return {
        brand.pk: BrandUsage(
            live_keys=counts[brand.pk].live_keys,
            max_keys=brand.quota.max_keys,
            refused_writes=counts[brand.pk].refused_writes,
        )
        for brand in brands
    }
