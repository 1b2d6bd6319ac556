"""Redis Cluster as configuration: a django-redis connection factory that hands out redis-py's
``RedisCluster`` instead of a ``Redis`` over one connection pool (the pattern of django-redis
issue #606; django-redis has no cluster support of its own).

``RedisCluster`` manages one pool per node itself and routes every command by its key's slot, so
the factory keeps one client per URL and options, process-wide, as django-redis keeps one pool per
URL. The standalone settings carry over: the connect and socket timeouts go to every node's
connections; the ``retry`` in CONNECTION_POOL_KWARGS becomes the cluster client's own retry
(redis-py refuses it on node connections: on a connection error the cluster client refreshes the
slot map and retries the command itself).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from django_redis.pool import ConnectionFactory
from redis.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException

# Options of CONNECTION_POOL_KWARGS that RedisCluster takes for itself rather than passing down.
_CLUSTER_LEVEL = ("retry",)


class ClusterUnreachableError(RedisConnectionError):
    """No node of the cluster gave a usable slot map, at start-up or on a refresh (redis-py says
    so with a bare RedisClusterException, the class it also uses for client-side misuse; this
    one is a ConnectionError, so the cache service counts it as "unavailable" and redis-py's
    cluster client retries it like any connection error)."""


def _refresh_or_unreachable(initialize):
    @functools.wraps(initialize)
    def refresh(*args, **kwargs):
        try:
            return initialize(*args, **kwargs)
        except RedisClusterException as exc:
            raise ClusterUnreachableError(f"Redis Cluster: {exc}") from exc

    return refresh


class ClusterConnectionFactory(ConnectionFactory):
    """CONNECTION_FACTORY for settings.CACHES when REDIS_CLUSTER is on; LOCATION names any node."""

    _clusters: dict[tuple, RedisCluster] = {}
    _lock = threading.Lock()

    def get_connection(self, params: dict[str, Any]) -> RedisCluster:
        key = (params["url"], *sorted((k, repr(v)) for k, v in params.items() if k != "url"),
               *sorted((k, repr(v)) for k, v in self.pool_cls_kwargs.items()))
        client = self._clusters.get(key)
        if client is None:
            with self._lock:
                client = self._clusters.get(key)
                if client is None:
                    # Connecting reads the slot map from the node named by the URL; an unreachable
                    # cluster raises RedisClusterException here, which the cache service counts
                    # as "unavailable". Nothing is kept on failure: the next call tries again.
                    client = self._clusters[key] = self._connect_cluster(params)
        return client

    def _connect_cluster(self, params: dict[str, Any]) -> RedisCluster:
        kwargs = {k: v for k, v in params.items() if k not in ("url", "parser_class")}
        pool_kwargs = dict(self.pool_cls_kwargs)
        cluster_kwargs = {name: pool_kwargs.pop(name) for name in _CLUSTER_LEVEL if name in pool_kwargs}
        try:
            client = RedisCluster.from_url(
                params["url"],
                # Brands on a healthy shard keep working while another shard is down (the
                # servers run with cluster-require-full-coverage no, see README).
                require_full_coverage=False,
                **cluster_kwargs,
                **kwargs,
                **pool_kwargs,
            )
        except RedisClusterException as exc:
            raise ClusterUnreachableError(f"Redis Cluster: {exc}") from exc
        # Every later refresh of the slot map (after a connection error, a failover, MOVED)
        # goes through the same method; the client's pipelines share this nodes manager.
        manager = client.nodes_manager
        manager.initialize = _refresh_or_unreachable(manager.initialize)
        return client

    def disconnect(self, connection: RedisCluster) -> None:
        connection.disconnect_connection_pools()

    @classmethod
    def forget(cls, url: str) -> None:
        """Close and drop the cached clients of one URL (a cluster that is gone: tests)."""
        with cls._lock:
            keys = [key for key in cls._clusters if key[0] == url]
            clients = [cls._clusters.pop(key) for key in keys]
        for client in clients:
            client.close()
