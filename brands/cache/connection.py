"""The Redis client the cache service uses, from django-redis (pools, timeouts and Sentinel are
configuration in settings.CACHES, not code)."""

from __future__ import annotations

from django_redis import get_redis_connection
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

REDIS_ALIAS = "default"

# The failures that mean "the cache is unavailable" (as opposed to a bug or a script error).
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)


def redis_client(alias: str = REDIS_ALIAS) -> Redis:
    return get_redis_connection(alias)


def ping(alias: str = REDIS_ALIAS) -> bool:
    """True when Redis answers; False when it cannot be reached."""
    try:
        return bool(redis_client(alias).ping())
    except UNAVAILABLE_ERRORS:
        return False
