"""What the usage page shows of a brand right now: usage against the limit, stored bytes,
refused writes and the biggest namespaces (from the cache service's exact analysis)."""

from __future__ import annotations

from dataclasses import dataclass

from brands.cache import BrandAnalysis, BrandCache, NamespaceNode
from brands.models import Brand
from brands.usage.levels import BrandUsage

TOP_NAMESPACES = 10


@dataclass(frozen=True)
class UsageSummary:
    usage: BrandUsage
    stored_bytes: int
    refused: dict[str, int]
    top_namespaces: list[NamespaceNode]
    # The exact analysis the figures above come from (brands/usage/analysis.py shows the rest).
    analysis: BrandAnalysis | None = None


def usage_summary(brand: Brand) -> UsageSummary:
    """Live figures for one brand; raises CacheUnavailable when Redis is down. Stored bytes and
    namespaces come from the analysis the write scripts keep (issue 12): no value is read, and
    every namespace counts, not only those among the first entries of the name index."""
    cache = BrandCache.for_brand(brand, raise_unavailable=True)
    analysis = cache.analysis(top=TOP_NAMESPACES)  # prunes first: every figure is about live keys
    refused = cache.refused_writes()
    return UsageSummary(
        usage=BrandUsage(live_keys=analysis.live_keys, max_keys=brand.quota.max_keys,
                         refused_writes=refused["total"]),
        # Until keys written before the accounting are upgraded, the total is read value by
        # value (slow, but the figure stays true; the analysis section says what is left out).
        stored_bytes=analysis.stored_bytes if analysis.complete else cache.stored_bytes_scanned(),
        refused=refused,
        top_namespaces=[NamespaceNode(prefix=ns.prefix, label=ns.prefix, key_count=ns.keys, is_leaf=False)
                        for ns in analysis.namespaces_by_keys],
        analysis=analysis,
    )
