"""Point the cache service at a Redis that is not there (settings change, nothing mocked)."""

from __future__ import annotations

import pytest


@pytest.fixture
def dead_redis(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "unix:///nonexistent/redis.sock",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
