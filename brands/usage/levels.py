"""Usage against the key limit, the same on every page, CSV and metric: the one percentage, its
rounding, the thresholds and the level names and words. Nothing else decides them."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from brands.cache import brands_live_counts

WARNING_PERCENT = 80.0
CRITICAL_PERCENT = 95.0
OVER_PERCENT = 100.0  # above it (strictly): more live keys than the limit allows

# The words for each level, the same on every page, in the CSV and in /metrics. "ok" has none.
LEVEL_WORDS = {
    "ok": "",
    "warning": "near limit",
    "critical": "critical",
    "over": "over limit",
}
LEVEL_MEANINGS = {
    "ok": f"below {WARNING_PERCENT:.0f} % of the key limit",
    "warning": f"{WARNING_PERCENT:.0f} % of the key limit or more",
    "critical": f"{CRITICAL_PERCENT:.0f} % of the key limit or more",
    "over": "more live keys than the key limit (it was lowered below the live count)",
}


def percent_used(live_keys: int, max_keys: int) -> float:
    return 100.0 * live_keys / max_keys if max_keys else 0.0


def usage_level(percent: float) -> str:
    """"ok", "warning" (>= 80 %), "critical" (>= 95 %) or "over" (> 100 %): CSS classes on bars
    and badges; LEVEL_WORDS says them in words."""
    if percent > OVER_PERCENT:
        return "over"
    if percent >= CRITICAL_PERCENT:
        return "critical"
    if percent >= WARNING_PERCENT:
        return "warning"
    return "ok"


def level_word(level: str) -> str:
    return LEVEL_WORDS.get(level, "")


def percent_value(percent: float) -> float:
    """The percentage as every page, CSV and metric shows it: one decimal, rounded toward the
    nearest threshold it has not crossed, so the figure never contradicts the level (9.97 is 9.9,
    99.96 is 99.9 and not a "full" 100.0, 100.02 is 100.1 and visibly over)."""
    tenths = percent * 10
    if percent > OVER_PERCENT:
        return math.ceil(tenths - 1e-9) / 10
    return math.floor(tenths + 1e-9) / 10


def percent_text(percent: float) -> str:
    """"9.9 %": the one way a usage percentage is written."""
    return f"{percent_value(percent):.1f} %"


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

    @property
    def percent_text(self) -> str:
        return percent_text(self.percent)

    @property
    def word(self) -> str:
        return level_word(self.level)


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
