"""A Redis that is not there: a socket path where nothing listens. Tests switch CACHES to it (a
settings change; the real client really fails to connect, nothing is mocked). The ``dead_redis``
fixture in conftest.py applies it."""

from __future__ import annotations

DEAD_REDIS_CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "unix:///nonexistent/redis.sock",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    }
}
