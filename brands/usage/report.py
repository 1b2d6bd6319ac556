"""What the usage page shows of a brand right now: usage against the limit, stored bytes,
refused writes and the biggest namespaces (from the cache service)."""

from __future__ import annotations

from dataclasses import dataclass

from brands.cache import BrandCache, NamespaceNode
from brands.models import Brand
from brands.usage.levels import BrandUsage

# How many top-level entries the namespace summary looks at: the tree walk is one Lua call whose
# cost grows with this, and a brand whose top level is thousands of plain keys has no namespaces
# worth ranking anyway.
NAMESPACE_SCAN_LIMIT = 500
TOP_NAMESPACES = 10


@dataclass(frozen=True)
class UsageSummary:
    usage: BrandUsage
    stored_bytes: int
    refused: dict[str, int]
    top_namespaces: list[NamespaceNode]


def usage_summary(brand: Brand) -> UsageSummary:
    """Live figures for one brand; raises CacheUnavailable when Redis is down."""
    cache = BrandCache.for_brand(brand, raise_unavailable=True)
    # The tree walk prunes expired index entries first, so the live count read after it agrees
    # with the namespace counts.
    nodes = cache.namespace_tree("", limit=NAMESPACE_SCAN_LIMIT)
    live = cache.live_count()
    namespaces = sorted(
        (node for node in nodes if not node.is_leaf), key=lambda node: (-node.key_count, node.prefix)
    )
    refused = cache.refused_writes()
    return UsageSummary(
        usage=BrandUsage(live_keys=live, max_keys=brand.quota.max_keys, refused_writes=refused["total"]),
        stored_bytes=cache.stored_bytes(),
        refused=refused,
        top_namespaces=namespaces[:TOP_NAMESPACES],
    )
