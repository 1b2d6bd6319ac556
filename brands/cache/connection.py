"""The Redis client the cache service uses, from django-redis (pools, timeouts, Sentinel and
Redis Cluster are configuration in settings.CACHES, not code)."""

from __future__ import annotations

from django_redis import get_redis_connection
from redis import Redis
from redis.exceptions import ClusterError, SlotNotCoveredError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

REDIS_ALIAS = "default"

# The failures that mean "the cache is unavailable" (as opposed to a bug or a script error).
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    # Also a Redis Cluster that cannot be reached at start-up or on a refresh of its slot map
    # (brands.cache.cluster raises ClusterUnreachableError, a ConnectionError, for it).
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    # Redis Cluster, once redis-py's own retries are spent: CLUSTERDOWN (a shard without a
    # primary, MasterDownError) and "TTL exhausted" after endless MOVED / ASK redirections are
    # ClusterError; TRYAGAIN comes while a slot migrates; SlotNotCoveredError when no node serves
    # a slot. Other RedisClusterExceptions are client-side misuse (keys of one call in several
    # slots, a command a cluster pipeline refuses): bugs, which must not pass for an outage.
    ClusterError,
    TryAgainError,
    SlotNotCoveredError,
)


def redis_client(alias: str = REDIS_ALIAS) -> Redis:
    return get_redis_connection(alias)


def ping(alias: str = REDIS_ALIAS) -> bool:
    """True when Redis answers; False when it cannot be reached."""
    try:
        return bool(redis_client(alias).ping())
    except UNAVAILABLE_ERRORS:
        return False
