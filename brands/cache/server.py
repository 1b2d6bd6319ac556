"""What the staff monitor shows about the Redis server itself (INFO), so views never call Redis."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from brands.cache.connection import UNAVAILABLE_ERRORS, redis_client
from brands.cache.errors import CacheUnavailable


@dataclass(frozen=True)
class ServerInfo:
    version: str
    mode: str  # "standalone", "sentinel" or "cluster"
    used_memory_human: str
    ops_per_sec: int
    connected_clients: int
    uptime_seconds: int


def _mode(info: dict) -> str:
    # Behind Sentinel the server we talk to is an ordinary master reporting "standalone"; what
    # matters to an operator is how the app reaches it, which is the django-redis client class.
    client_class = settings.CACHES["default"].get("OPTIONS", {}).get("CLIENT_CLASS", "")
    if "Sentinel" in client_class:
        return "sentinel"
    return str(info.get("redis_mode") or "standalone")


def server_info() -> ServerInfo:
    """One INFO round trip; raises CacheUnavailable when Redis cannot be reached."""
    try:
        info = redis_client().info()
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
