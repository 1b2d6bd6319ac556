"""The brand-scoped cache service (docs/contract.md): the only code that talks to Redis.

Everything callers need is exported here; nobody outside this package imports its submodules
(tests/test_architecture.py enforces it). See docs/cache-service-api.md for the API.

    service.py        BrandCache: the six contract operations and the admin operations
    bulk.py           streaming import and export of JSON lines
    validation.py     checks made before anything reaches Redis (keys, TTLs, values, amounts)
    scripts.py        the Lua scripts (one round trip per call) and how they are run
    accounting.py     the exact analysis the write scripts keep (Lua), sizes in the expiry score
    analysis.py       reading that analysis, any prefix's figures, the upgrade of older keys
    script_slots.py   script executions in flight per brand, the time-limit budget, script stats
    layout.py         where a brand's data lives in Redis (one hash tag per brand)
    usage.py          reads across many brands in one pipeline (monitor, metrics, snapshots)
    opcounts.py       operations per brand, counted in Python and flushed once per execution or
                      request; per-minute / per-hour history and hot keys
    server.py         what the Redis server (every primary of a cluster) says about itself
    connection.py     the client from django-redis and the errors that mean "unavailable"
    cluster.py        the django-redis connection factory for Redis Cluster (REDIS_CLUSTER=1)
    errors.py, types.py  what the service raises and returns
    bench_support.py  the benchmarks' documented exception: bulk data sets, MONITOR counting
"""

from brands.cache.accounting import SIZE_BOUNDS as ANALYSIS_SIZE_BOUNDS
from brands.cache.accounting import TOPK_CAP as ANALYSIS_TOPK_CAP
from brands.cache.analysis import TTL_BOUNDS as ANALYSIS_TTL_BOUNDS
from brands.cache.analysis import BigKey, BrandAnalysis, Bucket, NamespaceFigures, PrefixFigures
from brands.cache.bench_support import (
    delete_names,
    fill_brand_layout,
    glob_escape,
    is_cluster,
    memory_usage,
    monitor_round_trips,
    name_index_keys,
    names_under,
    node_client,
    reads_processed,
    server_environment,
    server_key_count,
)
from brands.cache.bulk import (
    IMPORT_POLICIES,
    LINE_OVERHEAD_BYTES,
    REFUSALS_LISTED,
    max_line_bytes,
    read_lines,
)
from brands.cache.cluster import ClusterConnectionFactory
from brands.cache.connection import UNAVAILABLE_ERRORS, ping, redis_client
from brands.cache.errors import (
    CacheKeyError,
    CacheTTLError,
    CacheUnavailable,
    CacheValueError,
    ImportInterrupted,
    NotANumberError,
)
from brands.cache.layout import BrandKeys
from brands.cache.opcounts import (
    AUTO_FLUSH_CALLS,
    HOT_BUCKET_S,
    HOT_KEEP_S,
    HOT_KEPT,
    HOUR_KEEP_S,
    MINUTE_KEEP_S,
    OPERATION_KINDS,
    REFUSAL_REASONS,
    SOURCES,
    HotKey,
    OpsHistory,
    brands_ops_totals,
    ops_history,
)
from brands.cache.opcounts import discard as discard_op_counts
from brands.cache.opcounts import flush as flush_op_counts
from brands.cache.opcounts import pending_calls as pending_op_calls
from brands.cache.opcounts import take as take_op_counts
from brands.cache.script_slots import (
    DURATION_HISTORY,
    OUTCOMES,
    BudgetState,
    ScriptStats,
    SlotGrant,
    brands_script_stats,
    script_slot_acquire,
    script_slot_release,
)
from brands.cache.scripts import NAMES_CHUNK, SCRIPT_NAMES, SCRIPTS
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
    MAX_JSON_DEPTH,
    NumberOutOfRange,
    check_json_depth,
    describe,
    finite_float,
    is_valid_key,
    parse_json_text,
    ranged_int,
    readable_json,
    shorten,
    to_json,
    utf8_size,
    validate_key,
)

__all__ = [
    "ANALYSIS_SIZE_BOUNDS",
    "ANALYSIS_TOPK_CAP",
    "ANALYSIS_TTL_BOUNDS",
    "BigKey",
    "BrandAnalysis",
    "Bucket",
    "NamespaceFigures",
    "PrefixFigures",
    "AUTO_FLUSH_CALLS",
    "HOT_BUCKET_S",
    "HOT_KEEP_S",
    "HOT_KEPT",
    "HOUR_KEEP_S",
    "MINUTE_KEEP_S",
    "DURATION_HISTORY",
    "OUTCOMES",
    "OPERATION_KINDS",
    "REFUSAL_REASONS",
    "SOURCES",
    "IMPORT_POLICIES",
    "KEY_MAX_LENGTH",
    "KEY_RULE",
    "LINE_OVERHEAD_BYTES",
    "MAX_JSON_DEPTH",
    "REFUSALS_LISTED",
    "NATURAL_SORT_MAX",
    "SCRIPTS",
    "readable_json",
    "NAMES_CHUNK",
    "SCRIPT_NAMES",
    "UNAVAILABLE_ERRORS",
    "UNAVAILABLE_WARNING",
    "BrandCache",
    "BrandKeys",
    "BudgetState",
    "BulkReport",
    "CacheKeyError",
    "CacheLimits",
    "CacheTTLError",
    "CacheUnavailable",
    "CacheValueError",
    "ClusterConnectionFactory",
    "ImportInterrupted",
    "HotKey",
    "ImportReport",
    "KeyInfo",
    "KeyPage",
    "LiveCounts",
    "NamespaceNode",
    "NodeInfo",
    "NotANumberError",
    "NumberOutOfRange",
    "OpsHistory",
    "Refusal",
    "ScriptStats",
    "ServerInfo",
    "SlotGrant",
    "TreeLevel",
    "WriteResult",
    "brands_live_counts",
    "brands_ops_totals",
    "brands_script_stats",
    "check_json_depth",
    "cluster_state",
    "delete_names",
    "discard_op_counts",
    "describe",
    "fill_brand_layout",
    "flush_op_counts",
    "finite_float",
    "glob_escape",
    "human_bytes",
    "is_valid_key",
    "key_version",
    "monitor_round_trips",
    "max_line_bytes",
    "is_cluster",
    "memory_usage",
    "name_index_keys",
    "names_under",
    "node_client",
    "ops_history",
    "parse_json_text",
    "pending_op_calls",
    "take_op_counts",
    "ping",
    "ranged_int",
    "read_lines",
    "reads_processed",
    "server_key_count",
    "redis_client",
    "script_slot_acquire",
    "script_slot_release",
    "server_environment",
    "server_info",
    "shorten",
    "to_json",
    "utf8_size",
    "validate_key",
]
