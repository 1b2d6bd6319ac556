"""What the benchmarks (``brands/bench/``) need from Redis beyond the service: the one documented
exception to "the cache service is the only door to brand keys".

Never used by the product. Two jobs:

* Writing a benchmark data set too large to write call by call: a million keys of a hundred
  brands that do not exist in the database, laid out exactly as the service's SET script lays
  them out (value key with a TTL, both index sorted sets), pipelined in batches.
* Instrumenting Redis itself: the commands a call sends as MONITOR sees them, the server-wide
  read counter, and deleting by name everything a run registered.

Every name written here is under a key prefix unique to the benchmark run, so nothing of a real
brand is ever read or written.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from redis.exceptions import ResponseError

from brands.cache.connection import UNAVAILABLE_ERRORS
from brands.cache.layout import BrandKeys
from brands.cache.scripts import NAMES_CHUNK

BATCH = 1000
SCAN_COUNT = 1000


def redis_now_ms(client) -> int:
    seconds, micros = client.time()
    return seconds * 1000 + micros // 1000


def glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def fill_brand_layout(client, keys: BrandKeys, names: list[str], value_text: str, *, ttl_ms: int,
                      index_ttl_ms: int) -> None:
    """``names`` as one brand's live keys, in the service's layout, pipelined ``BATCH`` at a time
    (a million script calls would take minutes for the same result): the value keys, the expiry
    index, and the name index's full chunks with their directory, as keys set in name order
    leave them. The index keys get a TTL of ``index_ttl_ms`` so that even a killed run leaves
    nothing behind for long."""
    now_ms = redis_now_ms(client)
    for start in range(0, len(names), BATCH):
        chunk = names[start:start + BATCH]
        pipe = client.pipeline(transaction=False)
        for name in chunk:
            pipe.set(keys.value(name), value_text, px=ttl_ms)
        pipe.zadd(keys.expiry_index, dict.fromkeys(chunk, now_ms + ttl_ms))
        pipe.execute()
    client.pexpire(keys.expiry_index, index_ttl_ms)
    ordered = sorted(names)
    pipe = client.pipeline(transaction=False)
    for start in range(0, len(ordered), NAMES_CHUNK):
        bound = ordered[start] if start else ""
        chunk_key = keys.name_chunk(bound)
        pipe.zadd(chunk_key, dict.fromkeys(ordered[start:start + NAMES_CHUNK], 0))
        pipe.pexpire(chunk_key, index_ttl_ms)
        pipe.zadd(keys.name_index, {bound: 0})
        pipe.hset(keys.name_chunk_sizes, bound, len(ordered[start:start + NAMES_CHUNK]))
        if len(pipe) >= BATCH:
            pipe.execute()
            pipe = client.pipeline(transaction=False)
    pipe.pexpire(keys.name_index, index_ttl_ms)
    pipe.pexpire(keys.name_chunk_sizes, index_ttl_ms)
    pipe.execute()


def name_index_keys(client, keys: BrandKeys) -> list[str]:
    """Every Redis key that holds the brand's name index: the directory and each chunk (for
    MEMORY USAGE and cleanup), and the index as it was before the chunks if it is still there."""
    bounds = [bound.decode() for bound in client.zrange(keys.name_index, 0, -1)]
    legacy = [keys.legacy_name_index] if client.exists(keys.legacy_name_index) else []
    return [keys.name_index, keys.name_chunk_sizes, *(keys.name_chunk(bound) for bound in bounds),
            *legacy]


def memory_usage(client, names: Iterable[str]) -> int:
    """Sum of MEMORY USAGE (SAMPLES 0: every element of a collection counted) over ``names``,
    one call each (a cluster client routes each to its key's node); a missing name counts 0."""
    return sum(int(client.memory_usage(name, samples=0) or 0) for name in names)


def delete_names(client, names: Iterable[str]) -> int:
    """UNLINK every name (a name never written is harmless), 50 batches per round trip. On Redis
    Cluster one UNLINK per name (the names of a batch lie in many slots), which the cluster
    pipeline sends each node as one batch."""
    per_name = is_cluster(client)
    deleted = 0
    batch: list[str] = []
    pipe = client.pipeline(transaction=False)
    queued = 0

    def queue(names: list[str]) -> None:
        if per_name:
            for name in names:
                pipe.unlink(name)
        else:
            pipe.unlink(*names)

    for name in names:
        batch.append(name)
        if len(batch) >= BATCH:
            queue(batch)
            batch, queued = [], queued + 1
            if queued >= 50:
                deleted += sum(pipe.execute())
                queued = 0
    if batch:
        queue(batch)
    deleted += sum(pipe.execute())
    return deleted


def is_cluster(client) -> bool:
    return hasattr(client, "get_node_from_key")  # only RedisCluster routes by key


def server_key_count(client) -> int:
    """DBSIZE of the one server, or summed over every primary of a cluster."""
    if not is_cluster(client):
        return int(client.dbsize())
    return sum(int(node.redis_connection.dbsize()) for node in client.get_primaries())


def node_client(client, key: str):
    """The plain client of the server that holds ``key``: the one server, or on Redis Cluster
    the primary serving its slot (MONITOR, ECHO and INFO there see that key's traffic)."""
    if not is_cluster(client):
        return client
    return client.get_node_from_key(key).redis_connection


def names_under(client, prefix: str) -> list[bytes]:
    """Every key under a benchmark run's own unique prefix (SCAN is fine here: it runs once, at
    the end of a run, to prove nothing was left)."""
    return list(client.scan_iter(match=glob_escape(prefix) + ":*", count=SCAN_COUNT))


def monitor_round_trips(client, fn: Callable[[], Any], calls: int, prefix: str) -> dict | None:
    """Commands this process sent, as Redis itself logs them to MONITOR: lines from a client
    connection (not ``lua``) that name a key under this run's unique prefix. Other clients'
    traffic never matches the prefix, so this holds on a busy shared server. None when the
    server refuses MONITOR (ACLs, managed Redis)."""
    marker = f"{prefix}:end-of-measure:{secrets.token_hex(4)}"
    sent: Counter[str] = Counter()
    inside: Counter[str] = Counter()
    try:
        with client.monitor() as monitor:
            for _ in range(calls):
                fn()
            client.echo(marker)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                line = monitor.next_command()
                command = line["command"]
                if marker in command:
                    break
                if prefix not in command:
                    continue
                name = command.split(" ", 1)[0].lower()
                (inside if line["client_type"] == "lua" else sent)[name] += 1
            else:
                return None
    except (ResponseError, *UNAVAILABLE_ERRORS):
        return None
    return {
        "round_trips": sum(sent.values()) / calls,
        "commands_per_call": {name: round(n / calls, 2) for name, n in sorted(sent.items())},
        # Keyless commands (TIME) cannot be attributed to this run, so they are not listed.
        "script_commands_per_call": {name: round(n / calls, 2) for name, n in sorted(inside.items())},
    }


def reads_processed(client) -> int:
    """Redis' server-wide count of socket reads of client requests."""
    return int(client.info("stats")["total_reads_processed"])


def server_environment(client) -> dict:
    server = client.info("server")
    return {"redis": server.get("redis_version")}
