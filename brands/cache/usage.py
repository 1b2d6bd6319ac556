"""Usage of many brands at once (staff monitor, metrics, record_usage, ``brands usage``): one Redis
pipeline."""

from __future__ import annotations

from collections.abc import Iterable

from brands.cache.connection import UNAVAILABLE_ERRORS, redis_client
from brands.cache.errors import CacheUnavailable
from brands.cache.layout import BrandKeys
from brands.cache.scripts import SCRIPTS
from brands.cache.types import LiveCounts


def brands_live_counts(brand_ids: Iterable[int]) -> dict[int, LiveCounts]:
    """Live keys and refused writes for each brand id.

    One pipeline for all brands: one round trip on a single server, one per node on Redis Cluster
    (each brand's two calls go to the node serving its slot). Raises CacheUnavailable."""
    brand_ids = list(brand_ids)
    if not brand_ids:
        return {}
    try:
        batch = SCRIPTS.batch(redis_client())
        for brand_id in brand_ids:
            keys = BrandKeys.for_brand(brand_id)
            batch.script("LIVE_COUNT", keys.script_keys())
            batch.command("HMGET", keys.stats, "key_limit", "value_size")
        replies = batch.execute()
    except UNAVAILABLE_ERRORS as exc:
        raise CacheUnavailable() from exc
    counts = {}
    for index, brand_id in enumerate(brand_ids):
        live, (key_limit, value_size) = replies[2 * index], replies[2 * index + 1]
        counts[brand_id] = LiveCounts(
            live_keys=int(live), refused_writes=int(key_limit or 0) + int(value_size or 0)
        )
    return counts
