"""Usage of many brands at once (staff monitor, metrics, record_usage, ``brands usage``): one Redis
pipeline."""

from __future__ import annotations

from collections.abc import Iterable

from brands.cache.connection import UNAVAILABLE_ERRORS, redis_client
from brands.cache.errors import CacheUnavailable
from brands.cache.layout import BrandKeys
from brands.cache.scripts import SCRIPTS
from brands.cache.types import BrandUsage


def brands_usage(brands: Iterable) -> dict[int, BrandUsage]:
    """Live keys and refused writes for each brand (``brand.quota`` must be loaded).

    One pipeline for all brands: one round trip on a single server, one per node on Redis Cluster
    (each brand's two calls go to the node serving its slot). Raises CacheUnavailable."""
    brands = list(brands)
    if not brands:
        return {}
    try:
        batch = SCRIPTS.batch(redis_client())
        for brand in brands:
            keys = BrandKeys.for_brand(brand.pk)
            batch.script("LIVE_COUNT", keys.script_keys())
            batch.command("HMGET", keys.stats, "key_limit", "value_size")
        replies = batch.execute()
    except UNAVAILABLE_ERRORS as exc:
        raise CacheUnavailable() from exc
    usage = {}
    for index, brand in enumerate(brands):
        live, (key_limit, value_size) = replies[2 * index], replies[2 * index + 1]
        usage[brand.pk] = BrandUsage(
            live_keys=int(live),
            max_keys=brand.quota.max_keys,
            refused_writes=int(key_limit or 0) + int(value_size or 0),
        )
    return usage
