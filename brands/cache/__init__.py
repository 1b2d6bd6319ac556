"""The brand-scoped cache service (CONTRACT.md): the only code that touches brand keys in Redis.

See docs/cache-service-api.md for the API.
"""

from brands.cache.errors import (
    CacheKeyError,
    CacheTTLError,
    CacheUnavailable,
    CacheValueError,
    NotANumberError,
)
from brands.cache.service import BrandCache, CacheLimits
from brands.cache.types import BrandUsage, ImportReport, KeyInfo, KeyPage, NamespaceNode
from brands.cache.usage import brands_usage

__all__ = [
    "BrandCache",
    "BrandUsage",
    "CacheKeyError",
    "CacheLimits",
    "CacheTTLError",
    "CacheUnavailable",
    "CacheValueError",
    "ImportReport",
    "KeyInfo",
    "KeyPage",
    "NamespaceNode",
    "NotANumberError",
    "brands_usage",
]
