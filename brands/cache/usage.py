"""Usage of many brands at once (staff monitor, metrics, record_usage): one Redis pipeline."""

from __future__ import annotations

from collections.abc import Iterable

from brands.cache.connection import UNAVAILABLE_ERRORS, redis_client
from brands.cache.errors import CacheUnavailable
from brands.cache.layout import BrandKeys
from brands.cache.scripts import SCRIPTS
from brands.cache.types import LiveCounts


def brands_live_counts(brand_ids: Iterable[int]) -> dict[int, LiveCounts]:
    """Live keys and refused writes for each brand id."""
    brand_ids = list(brand_ids)
    if not brand_ids:
        return {}
    client = redis_client()
    live_count = SCRIPTS.get("LIVE_COUNT", client)
    pipe = client.pipeline(transaction=False)
    for brand_id in brand_ids:
        keys = BrandKeys.for_brand(brand_id)
        live_count(keys=["", *keys.index_keys], args=[], client=pipe)
        pipe.hmget(keys.stats, "key_limit", "value_size")
    try:
        replies = pipe.execute()
    except UNAVAILABLE_ERRORS as exc:
        raise CacheUnavailable() from exc
    counts = {}
    for index, brand_id in enumerate(brand_ids):
        live, (key_limit, value_size) = replies[2 * index], replies[2 * index + 1]
        counts[brand_id] = LiveCounts(
            live_keys=int(live), refused_writes=int(key_limit or 0) + int(value_size or 0)
        )
    return counts
