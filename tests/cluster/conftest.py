"""Clusters of the tests' own (started here from redis-server, thrown away afterwards), and the
app pointed at one of them the way production would be: REDIS_CLUSTER's settings."""

from __future__ import annotations

import copy

import pytest
from django.conf import settings as django_settings
from redis.crc import key_slot

from brands.cache import BrandKeys, ClusterConnectionFactory
from cacheadmin.settings import cluster_options
from tests.cluster.redis_cluster import LocalCluster, slot_ranges


def cluster_caches(url: str) -> dict:
    """settings.CACHES as REDIS_CLUSTER=1 REDIS_URL=<url> builds it (timeouts, retry and all)."""
    default = copy.deepcopy(django_settings.CACHES["default"])
    options = default["OPTIONS"]
    for sentinel_only in ("SENTINELS", "CONNECTION_FACTORY"):
        options.pop(sentinel_only, None)
    options["CLIENT_CLASS"] = "django_redis.client.DefaultClient"
    options.update(cluster_options(url))
    default["LOCATION"] = url
    return {"default": default}


def brand_ids_per_shard(primaries: int, start: int = 800_000) -> list[int]:
    """One brand id whose slot each of the cluster's primaries serves (slots split evenly)."""
    ranges = slot_ranges(primaries)
    found: dict[int, int] = {}
    brand_id = start
    while len(found) < primaries:
        slot = key_slot(BrandKeys.for_brand(brand_id).stats.encode())
        shard = next(i for i, (first, last) in enumerate(ranges) if first <= slot <= last)
        found.setdefault(shard, brand_id)
        brand_id += 1
    return [found[i] for i in range(primaries)]


@pytest.fixture(scope="module")
def local_cluster(tmp_path_factory):
    """3 primaries with a replica each, for the module."""
    with LocalCluster(3, 1, node_timeout_ms=1000, base_dir=tmp_path_factory.mktemp("cluster")) as cluster:
        yield cluster
    ClusterConnectionFactory.forget(cluster.url)


@pytest.fixture
def on_local_cluster(local_cluster, settings):
    settings.CACHES = cluster_caches(local_cluster.url)
    return local_cluster
