"""Cluster outages are "cache unavailable" (soft failures, CacheUnavailable, 503 pages), never a
500: a cluster that cannot be reached at start-up, and a cluster that is down (CLUSTERDOWN)."""

from __future__ import annotations

import time

import pytest

from brands.cache import (
    BrandCache,
    CacheLimits,
    CacheUnavailable,
    ClusterConnectionFactory,
    brands_live_counts,
    server_info,
)
from brands.models import Membership
from tests.cluster.conftest import brand_ids_per_shard, cluster_caches
from tests.cluster.redis_cluster import LocalCluster, cluster_state, free_ports

LIMITS = CacheLimits(max_keys=5, max_value_bytes=64, default_ttl=600, max_ttl=600)


def assert_unavailable_everywhere(cache: BrandCache, brand, client, staff) -> None:
    assert cache.get("k") is None
    assert cache.set("k", 1) is False
    assert cache.increment("n") is None
    assert cache.delete("k") is False
    assert cache.warnings == ["cache unavailable"] * 4
    for admin_call in (cache.live_count, cache.list_keys, lambda: cache.key_info("k"), cache.stored_bytes):
        with pytest.raises(CacheUnavailable):
            admin_call()
    with pytest.raises(CacheUnavailable):
        brands_live_counts([brand.pk])
    # Pages: the 503 page, not a 500; the home page still renders, without usage.
    for url in (f"/b/{brand.slug}/keys/", f"/b/{brand.slug}/keys/k/", f"/b/{brand.slug}/usage/"):
        response = client.get(url)
        assert response.status_code == 503, url
        assert b"The cache is unavailable right now" in response.content
    client.force_login(staff)
    assert client.get("/staff/quotas/").status_code == 503
    home = client.get("/")
    assert home.status_code == 200 and "usage cannot be shown" in home.content.decode()


def test_a_cluster_unreachable_at_start_up_is_unavailable(
    settings, brand, member_factory, client, staff_user
):
    nobody = free_ports(1)[0]
    settings.CACHES = cluster_caches(f"redis://127.0.0.1:{nobody}/0")
    client.force_login(member_factory(brand, Membership.Role.ADMIN))
    assert_unavailable_everywhere(BrandCache.for_brand(brand), brand, client, staff_user)
    with pytest.raises(CacheUnavailable):
        server_info()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "redis": "unavailable"}


@pytest.fixture
def failed_cluster(tmp_path, settings):
    """Three primaries, no replicas, requiring full coverage; one primary killed: the others
    declare the cluster down and answer CLUSTERDOWN for every key."""
    with LocalCluster(3, 0, node_timeout_ms=1000, require_full_coverage=True, base_dir=tmp_path) as cluster:
        settings.CACHES = cluster_caches(cluster.url)
        for brand_id in brand_ids_per_shard(3):  # the client has learnt the slot map
            assert BrandCache(brand_id, LIMITS).set("before", 1)
        cluster.nodes[2].stop(kill=True)
        survivors = cluster.nodes[:2]
        deadline = time.monotonic() + 30
        while any(cluster_state(node.client()) != "fail" for node in survivors):
            assert time.monotonic() < deadline, "the cluster never noticed the lost primary"
            time.sleep(0.1)
        yield cluster
    ClusterConnectionFactory.forget(cluster.url)


@pytest.mark.slow
def test_a_cluster_that_is_down_is_unavailable(failed_cluster, brand, member_factory, client, staff_user):
    client.force_login(member_factory(brand, Membership.Role.ADMIN))
    # A brand on a live node (CLUSTERDOWN) and one on the dead node (no connection).
    for brand_id in brand_ids_per_shard(3)[::2]:
        cache = BrandCache(brand_id, LIMITS)
        assert cache.get("before") is None and cache.increment("n") is None
        assert cache.warnings == ["cache unavailable"] * 2
    assert_unavailable_everywhere(BrandCache.for_brand(brand), brand, client, staff_user)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "redis": "ok", "cluster_state": "fail"}
