"""The usage page's analysis section (templates/brands/_usage_analysis.html): the value-size and
TTL histograms, the ten biggest keys and the namespaces by keys and by bytes, from the exact
figures the cache's write scripts keep (``BrandCache.analysis``: one script call, no value read),
and any prefix's keys and bytes on demand."""

from __future__ import annotations

from dataclasses import dataclass

from brands.cache import BrandAnalysis, BrandCache, Bucket, CacheKeyError, PrefixFigures
from brands.models import Brand


@dataclass(frozen=True)
class Bar:
    """One histogram row, its texts formatted once here (the page renders them as they are)."""

    label: str
    count: int
    percent: float  # of the largest bar, for the SVG width (0-100)
    share: float  # of all keys (0-100)

    @property
    def count_text(self) -> str:
        return f"{self.count:,}"

    @property
    def share_text(self) -> str:
        return f"{self.share:.1f} %"

    @property
    def width(self) -> str:
        return f"{self.percent:.2f}"


@dataclass(frozen=True)
class AnalysisSection:
    analysis: BrandAnalysis
    size_bars: list[Bar]
    ttl_bars: list[Bar]

    @property
    def average_bytes(self) -> int:
        return round(self.analysis.stored_bytes / self.analysis.live_keys) if self.analysis.live_keys else 0


def _bars(buckets: list[Bucket], total: int) -> list[Bar]:
    peak = max((b.count for b in buckets), default=0)
    return [Bar(label=b.label, count=b.count, percent=100 * b.count / peak if peak else 0.0,
                share=100 * b.count / total if total else 0.0) for b in buckets]


def _size_buckets_shown(analysis: BrandAnalysis, max_value_bytes: int) -> list[Bucket]:
    """Buckets up to the one holding the brand's value limit (no key can be bigger), or further
    when keys written before the limit was lowered are."""
    buckets = analysis.size_histogram
    limit_index = next((i for i, b in enumerate(buckets)
                        if b.upper_bytes is None or b.upper_bytes >= max_value_bytes), len(buckets) - 1)
    highest = max((i for i, b in enumerate(buckets) if b.count), default=0)
    return buckets[:max(limit_index, highest) + 1]


def analysis_section(brand: Brand, analysis: BrandAnalysis) -> AnalysisSection:
    total = analysis.live_keys
    return AnalysisSection(
        analysis=analysis,
        size_bars=_bars(_size_buckets_shown(analysis, brand.quota.max_value_bytes), total),
        ttl_bars=_bars(analysis.ttl_histogram, total),
    )


@dataclass(frozen=True)
class PrefixAnswer:
    prefix: str
    figures: PrefixFigures | None = None
    error: str | None = None


def prefix_answer(brand: Brand, prefix: str) -> PrefixAnswer:
    """Keys and bytes under ``prefix``; a prefix no key could start with is answered with the
    rule it breaks (nothing is read). Raises CacheUnavailable when Redis is down."""
    if prefix == "":
        return PrefixAnswer(prefix, error="Enter the start of a key name, for example user: or cart:42.")
    try:
        figures = BrandCache.for_brand(brand, raise_unavailable=True).prefix_figures(prefix)
    except CacheKeyError as exc:
        return PrefixAnswer(prefix, error=str(exc))
    return PrefixAnswer(prefix, figures=figures)
