"""Failover, measured: a primary killed (by the PID this test started) while brands on every shard
write continuously. Brands on the other shards see no error at all; brands on the failed shard
get "cache unavailable" (soft failures, 503 pages, never a 500) and recover by themselves once
the cluster has promoted the replica. The figures are printed (pytest -s) and quoted in README.

The servers run with ``cluster-require-full-coverage no`` (tests/cluster/redis_cluster.py, as
docs/deployment.md asks of production): with the default ``yes`` every node would refuse every
key (CLUSTERDOWN) from the moment one shard is lost, which test_cluster_outages.py shows."""

from __future__ import annotations

import time

import pytest

from brands.cache import BrandCache, CacheLimits, ClusterConnectionFactory
from brands.models import Brand, Membership
from tests.cluster.conftest import brand_ids_per_shard, cluster_caches
from tests.cluster.load import Writer
from tests.cluster.redis_cluster import LocalCluster, redis_server_binary

LIMITS = CacheLimits(max_keys=100, max_value_bytes=64, default_ttl=600, max_ttl=600)
FAILED = 1  # the shard whose primary is killed (not the node in the URL: that one must keep working)
RECOVERY_TIMEOUT_S = 30.0


def _binary_or_skip() -> str:
    try:
        return redis_server_binary()
    except (RuntimeError, ImportError) as exc:
        pytest.skip(f"no redis-server to start a cluster with: {exc}")


def _set_then_get(cache: BrandCache, i: int) -> bool:
    if i % 2 == 0:
        return cache.set(f"k{i % 20}", i)
    cache.get(f"k{(i - 1) % 20}")
    return True  # a miss is an answer; an outage shows as the warning


@pytest.mark.slow
def test_killing_a_primary_fails_only_its_shard_which_recovers_by_itself(
    tmp_path, settings, member_factory, client
):
    binary = _binary_or_skip()
    with LocalCluster(3, 1, node_timeout_ms=1000, binary=binary, base_dir=tmp_path) as cluster:
        try:
            settings.CACHES = cluster_caches(cluster.url)
            brand_ids = brand_ids_per_shard(3)
            failed_brand = Brand.objects.create(id=brand_ids[FAILED], slug="failover", name="Failover")
            client.force_login(member_factory(failed_brand, Membership.Role.ADMIN))
            writers = [Writer(BrandCache(brand_id, LIMITS), _set_then_get) for brand_id in brand_ids]
            for writer in writers:
                writer.start()
            try:
                time.sleep(0.5)
                assert all(w.answers and all(a.ok for a in w.answers) for w in writers), "warm-up"
                victim = cluster.initial_primaries[FAILED]
                replica = cluster.nodes[3 + FAILED]  # redis_cluster.py: replica i follows primary i
                killed_at = time.monotonic()
                victim.stop(kill=True)  # SIGKILL to the PID this test started

                deadline = killed_at + RECOVERY_TIMEOUT_S
                while not writers[FAILED].unavailable:
                    assert time.monotonic() < deadline, "the killed shard's brand never noticed"
                    time.sleep(0.01)
                # The dashboard meanwhile: a 503 page, not a 500.
                outage_page = client.get(f"/b/{failed_brand.slug}/keys/")
                while replica.client().info("replication")["role"] != "master":
                    assert time.monotonic() < deadline, "the replica was never promoted"
                    time.sleep(0.05)
                promoted_at = time.monotonic()
                # Recovered: the failed shard's last 50 answers, all acknowledged.
                while not (len(tail := writers[FAILED].between(promoted_at, time.monotonic())) >= 50
                           and all(a.ok for a in tail[-50:])):
                    assert time.monotonic() < deadline, "the failed shard's brand did not recover"
                    time.sleep(0.05)
                ended_at = time.monotonic()
            finally:
                for writer in writers:
                    writer.stop()

            for writer in writers:
                assert not writer.raised, writer.tracebacks  # nothing raised: no 500 anywhere
            assert outage_page.status_code == 503
            assert b"The cache is unavailable right now" in outage_page.content
            assert client.get(f"/b/{failed_brand.slug}/keys/").status_code == 200
            failed = writers[FAILED]
            assert not failed.other_failures  # every failure there was "cache unavailable"
            last_failure = max(a.at for a in failed.answers if not a.ok)
            recovered_at = min(a.at for a in failed.answers if a.at > last_failure)
            others = [w for i, w in enumerate(writers) if i != FAILED]
            other_calls = [a for w in others for a in w.between(killed_at, ended_at)]
            other_errors = [a for a in other_calls if not a.ok]
            print(
                f"\nfailover (node timeout 1 s, 3 primaries x 1 replica): "
                f"failed shard unavailable for {recovered_at - killed_at:.2f} s after the kill "
                f"(replica promoted after {promoted_at - killed_at:.2f} s), "
                f"{len(failed.unavailable)} 'cache unavailable' answers there; "
                f"other shards: {len(other_errors)} errors in {len(other_calls)} calls"
            )
            assert other_calls and not other_errors
            assert recovered_at - killed_at < RECOVERY_TIMEOUT_S
            # The recovered shard serves the admin operations too (the dashboard's 200 above).
            assert BrandCache(brand_ids[FAILED], LIMITS, raise_unavailable=True).live_count() >= 0
        finally:
            ClusterConnectionFactory.forget(cluster.url)
