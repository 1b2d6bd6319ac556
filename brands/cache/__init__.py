"""The brand-scoped cache service (docs/contract.md): the only code that talks to Redis.

Everything callers need is exported here; nobody outside this package imports its submodules
(tests/test_architecture.py enforces it). See docs/cache-service-api.md for the API.

    service.py        BrandCache: the six contract operations and the admin operations
    validation.py     checks made before anything reaches Redis (keys, TTLs, values, amounts)
    scripts.py        the Lua scripts (one round trip per call) and how they are run
    layout.py         where a brand's data lives in Redis (one hash tag per brand)
    usage.py          reads across many brands in one pipeline (monitor, metrics, snapshots)
    server.py         what the Redis server (every primary of a cluster) says about itself
    connection.py     the client from django-redis and the errors that mean "unavailable"
    cluster.py        the django-redis connection factory for Redis Cluster (REDIS_CLUSTER=1)
    errors.py, types.py  what the service raises and returns
    bench_support.py  the benchmarks' documented exception: bulk data sets, MONITOR counting
"""

from brands.cache.bench_support import (
    delete_names,
    fill_brand_layout,
    glob_escape,
    monitor_round_trips,
    names_under,
    reads_processed,
    server_environment,
)
from brands.cache.cluster import ClusterConnectionFactory
from brands.cache.connection import UNAVAILABLE_ERRORS, ping, redis_client
from brands.cache.errors import (
    CacheKeyError,
    CacheTTLError,
    CacheUnavailable,
    CacheValueError,
    NotANumberError,
)
from brands.cache.layout import BrandKeys
from brands.cache.scripts import SCRIPT_NAMES, SCRIPTS
from brands.cache.server import NodeInfo, ServerInfo, cluster_state, human_bytes, server_info
from brands.cache.service import NATURAL_SORT_MAX, UNAVAILABLE_WARNING, BrandCache, CacheLimits
from brands.cache.types import (
    BulkReport,
    ImportReport,
    KeyInfo,
    KeyPage,
    LiveCounts,
    NamespaceNode,
    Refusal,
    TreeLevel,
    WriteResult,
    key_version,
)
from brands.cache.usage import brands_live_counts
from brands.cache.validation import (
    KEY_MAX_LENGTH,
    KEY_RULE,
    describe,
    is_valid_key,
    shorten,
    to_json,
    utf8_size,
    validate_key,
)

__all__ = [
    "KEY_MAX_LENGTH",
    "KEY_RULE",
    "NATURAL_SORT_MAX",
    "SCRIPTS",
    "SCRIPT_NAMES",
    "UNAVAILABLE_ERRORS",
    "UNAVAILABLE_WARNING",
    "BrandCache",
    "BrandKeys",
    "BulkReport",
    "CacheKeyError",
    "CacheLimits",
    "CacheTTLError",
    "CacheUnavailable",
    "CacheValueError",
    "ClusterConnectionFactory",
    "ImportReport",
    "KeyInfo",
    "KeyPage",
    "LiveCounts",
    "NamespaceNode",
    "NodeInfo",
    "NotANumberError",
    "Refusal",
    "ServerInfo",
    "TreeLevel",
    "WriteResult",
    "brands_live_counts",
    "cluster_state",
    "delete_names",
    "describe",
    "fill_brand_layout",
    "glob_escape",
    "human_bytes",
    "is_valid_key",
    "key_version",
    "monitor_round_trips",
    "names_under",
    "ping",
    "reads_processed",
    "redis_client",
    "server_environment",
    "server_info",
    "shorten",
    "to_json",
    "utf8_size",
    "validate_key",
]
