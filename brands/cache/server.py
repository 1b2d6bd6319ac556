"""What the staff monitor and /healthz show about Redis itself (INFO, CLUSTER NODES / INFO), so
views never call Redis.

On a single server (or behind Sentinel) that is one INFO. On Redis Cluster the panel lists every
primary, as the cluster itself sees them (CLUSTER NODES from one node), each with its own INFO
(one round trip per primary), and the top-level figures are totals over the primaries. A primary
that does not answer is listed as unreachable rather than hiding the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from redis.cluster import RedisCluster

from brands.cache.connection import REDIS_ALIAS, UNAVAILABLE_ERRORS, redis_client
from brands.cache.errors import CacheUnavailable

HASH_SLOTS = 16384


@dataclass(frozen=True)
class NodeInfo:
    """One primary of a Redis Cluster."""

    address: str  # host:port as the cluster announces it
    role: str  # "primary", or what the node says it is now ("replica" right after a failover)
    slots: str  # "0-5460" or "0-100, 200-300"; "" when it serves none
    slot_count: int
    replicas: tuple[str, ...]  # "host:port", with " (failing)" when the cluster marks it so
    reachable: bool
    used_memory_bytes: int = 0
    used_memory_human: str = ""
    ops_per_sec: int = 0
    connected_clients: int = 0
    uptime_seconds: int = 0
    version: str = ""


@dataclass(frozen=True)
class ServerInfo:
    version: str
    mode: str  # "standalone", "sentinel" or "cluster"
    used_memory_human: str  # on a cluster: the total over the primaries (and likewise below)
    ops_per_sec: int
    connected_clients: int
    uptime_seconds: int  # on a cluster: the youngest primary's
    nodes: tuple[NodeInfo, ...] = field(default=())  # the primaries, on a cluster only


def is_cluster(client) -> bool:
    return isinstance(client, RedisCluster)


def _mode(info: dict) -> str:
    # Behind Sentinel the server we talk to is an ordinary master reporting "standalone"; what
    # matters to an operator is how the app reaches it, which is the django-redis client class.
    client_class = settings.CACHES[REDIS_ALIAS].get("OPTIONS", {}).get("CLIENT_CLASS", "")
    if "Sentinel" in client_class:
        return "sentinel"
    return str(info.get("redis_mode") or "standalone")


def human_bytes(count: int) -> str:
    """Bytes the way INFO's used_memory_human writes them (1023B, 1.50K, 2.25M, ...)."""
    if count < 1024:
        return f"{count}B"
    value = float(count)
    for unit in "KMGTP":
        value /= 1024
        if value < 1024 or unit == "P":
            return f"{value:.2f}{unit}"
    raise AssertionError("unreachable")


def server_info() -> ServerInfo:
    """Raises CacheUnavailable when Redis (or, on a cluster, every node) cannot be reached."""
    try:
        client = redis_client()
        if is_cluster(client):
            return _cluster_info(client)
        info = client.info()
    except UNAVAILABLE_ERRORS as exc:
        raise CacheUnavailable() from exc
    return ServerInfo(
        version=str(info.get("redis_version", "?")),
        mode=_mode(info),
        used_memory_human=str(info.get("used_memory_human", "?")),
        ops_per_sec=int(info.get("instantaneous_ops_per_sec", 0)),
        connected_clients=int(info.get("connected_clients", 0)),
        uptime_seconds=int(info.get("uptime_in_seconds", 0)),
    )


def _slot_text(ranges: list) -> tuple[str, int]:
    parts, count = [], 0
    for bounds in ranges:
        first, last = int(bounds[0]), int(bounds[-1])
        count += last - first + 1
        parts.append(str(first) if first == last else f"{first}-{last}")
    return ", ".join(parts), count


def _cluster_info(client: RedisCluster) -> ServerInfo:
    topology = client.cluster_nodes()  # the cluster's own view, from one node
    replicas: dict[str, list[str]] = {}
    for address, node in topology.items():
        if node["master_id"] not in ("", "-"):
            failing = "fail" in node["flags"].split(",")
            replicas.setdefault(node["master_id"], []).append(address + (" (failing)" if failing else ""))
    nodes = []
    def first_slot(item: tuple) -> int:
        slots = item[1]["slots"]
        return int(slots[0][0]) if slots else HASH_SLOTS

    for address, node in sorted(topology.items(), key=first_slot):
        flags = node["flags"].split(",")
        if "master" not in flags or (not node["slots"] and "fail" in flags):
            continue  # a replica, or a primary that failed over and serves nothing now
        slots, slot_count = _slot_text(node["slots"])
        its_replicas = tuple(sorted(replicas.get(node["node_id"], [])))
        nodes.append(_primary(client, address, slots, slot_count, its_replicas))
    reachable = [node for node in nodes if node.reachable]
    if not reachable:
        raise CacheUnavailable("No primary of the Redis Cluster answers.")
    versions = sorted({node.version for node in reachable})
    return ServerInfo(
        version=", ".join(versions),
        mode="cluster",
        used_memory_human=human_bytes(sum(node.used_memory_bytes for node in reachable)),
        ops_per_sec=sum(node.ops_per_sec for node in reachable),
        connected_clients=sum(node.connected_clients for node in reachable),
        uptime_seconds=min(node.uptime_seconds for node in reachable),
        nodes=tuple(nodes),
    )


def _primary(client: RedisCluster, address: str, slots: str, slot_count: int, replicas: tuple) -> NodeInfo:
    host, _, port = address.rpartition(":")
    unreachable = NodeInfo(address=address, role="primary", slots=slots, slot_count=slot_count,
                           replicas=replicas, reachable=False)
    target = client.get_node(host=host, port=int(port))
    if target is None:  # not in this client's slot map (yet): nothing to ask
        return unreachable
    try:
        info = client.info(target_nodes=target)
    except UNAVAILABLE_ERRORS:
        return unreachable
    return NodeInfo(
        address=address,
        role="primary" if info.get("role") == "master" else "replica",
        slots=slots,
        slot_count=slot_count,
        replicas=replicas,
        reachable=True,
        used_memory_bytes=int(info.get("used_memory", 0)),
        used_memory_human=str(info.get("used_memory_human", "?")),
        ops_per_sec=int(info.get("instantaneous_ops_per_sec", 0)),
        connected_clients=int(info.get("connected_clients", 0)),
        uptime_seconds=int(info.get("uptime_in_seconds", 0)),
        version=str(info.get("redis_version", "?")),
    )


def cluster_state() -> str | None:
    """None on a single server; on Redis Cluster "ok" when every primary says cluster_state:ok,
    else "fail" (a primary that does not answer counts as fail). Raises CacheUnavailable when
    Redis cannot be reached at all."""
    try:
        client = redis_client()
        if not is_cluster(client):
            return None
        primaries = client.get_primaries()
    except UNAVAILABLE_ERRORS as exc:
        raise CacheUnavailable() from exc
    for node in primaries:
        try:
            state = client.cluster_info(target_nodes=node).get("cluster_state")
        except UNAVAILABLE_ERRORS:
            return "fail"
        if state != "ok":
            return "fail"
    return "ok" if primaries else "fail"
