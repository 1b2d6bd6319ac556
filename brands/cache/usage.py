"""Usage of many brands at once (staff monitor, metrics, record_usage): one Redis pipeline."""

from __future__ import annotations

from collections.abc import Iterable

from brands.cache.connection import UNAVAILABLE_ERRORS, redis_client
from brands.cache.errors import CacheUnavailable
from brands.cache.layout import BrandKeys
from brands.cache.scripts import SCRIPTS
from brands.cache.types import BrandUsage


def brands_usage(brands: Iterable) -> dict[int, BrandUsage]:
    """Live keys and refused writes for each brand (``brand.quota`` must be loaded)."""
    brands = list(brands)
    if not brands:
        return {}
    client = redis_client()
    live_count = SCRIPTS.get("LIVE_COUNT", client)
    pipe = client.pipeline(transaction=False)
    for brand in brands:
        keys = BrandKeys.for_brand(brand.pk)
        live_count(keys=["", *keys.index_keys], args=[], client=pipe)
        pipe.hmget(keys.stats, "key_limit", "value_size")
    try:
        replies = pipe.execute()
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
