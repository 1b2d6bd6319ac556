"""The unchanged product on a real Redis Cluster of this module's own (3 primaries, a replica
each), reached through one node's URL as REDIS_CLUSTER=1 configures it."""

from __future__ import annotations

from types import SimpleNamespace

from django.conf import settings
from redis.cluster import RedisCluster

from brands.cache import (
    SCRIPTS,
    BrandCache,
    CacheLimits,
    brands_live_counts,
    human_bytes,
    redis_client,
    server_info,
)
from tests.cluster.conftest import brand_ids_per_shard
from tests.cluster.wire import capture_wire

LIMITS = CacheLimits(max_keys=5, max_value_bytes=64, default_ttl=600, max_ttl=600)


def test_the_client_is_a_cluster_client_with_the_standalone_timeouts(on_local_cluster):
    client = redis_client()
    assert isinstance(client, RedisCluster)
    options = settings.CACHES["default"]["OPTIONS"]
    kwargs = client.get_connection_kwargs()
    assert kwargs["socket_timeout"] == options["SOCKET_TIMEOUT"]
    assert kwargs["socket_connect_timeout"] == options["SOCKET_CONNECT_TIMEOUT"]
    assert client.retry.get_retries() == options["CONNECTION_POOL_KWARGS"]["retry"].get_retries()
    # Every node was found from the one in the URL.
    assert {n.port for n in client.get_primaries()} == {n.port for n in on_local_cluster.initial_primaries}


def test_brands_on_every_shard_work_through_one_nodes_url(on_local_cluster):
    """Before: MOVED for every brand whose slot is on another node; CROSSSLOT for the admin
    scripts of brands on the named node."""
    for brand_id in brand_ids_per_shard(3):
        cache = BrandCache(brand_id, LIMITS)
        assert cache.set("a:one", 1) and cache.set("a:two", {"x": 2}) and cache.set("b", "three")
        assert cache.set_if_absent("b", "no") is False
        assert cache.increment("counter", 5) == 5
        assert cache.get("a:two") == {"x": 2} and cache.has("b")
        assert cache.set("toolarge", "x" * 100) is False
        assert cache.set("fifth", 5) and cache.set("sixth", 6) is False  # the key limit, exactly
        assert cache.live_count() == 5
        listed = [item.key for item in cache.list_keys(limit=10).items]
        assert listed == ["a:one", "a:two", "b", "counter", "fifth"]
        assert [(n.label, n.key_count) for n in cache.namespace_tree()] == \
               [("a:", 2), ("b", 1), ("counter", 1), ("fifth", 1)]
        assert cache.refused_writes() == {"key_limit": 1, "value_size": 1, "total": 2}
        assert cache.stored_bytes() == len("1") + len('{"x":2}') + len('"three"') + len("5") + len("5")
        assert cache.key_info("b").value == "three"
        assert cache.count_prefix("a:") == 2
        assert cache.delete_prefix("a:") == 2 and cache.delete("b")
        assert cache.live_count() == 2
        assert cache.delete_all() == 2 and cache.live_count() == 0


def test_safe_editing_works_on_every_shard(on_local_cluster):
    """The dashboard's versioned writes, restores, bulk operations and undo: every key each script
    touches is declared and in the brand's slot, or the cluster would refuse it (CROSSSLOT)."""
    limits = CacheLimits(max_keys=50, max_value_bytes=64, default_ttl=600, max_ttl=600)
    for brand_id in brand_ids_per_shard(3):
        cache = BrandCache(brand_id, limits, raise_unavailable=True)
        for i in range(5):
            assert cache.set(f"a:{i}", i)
        info = cache.key_info("a:0")
        assert cache.set_versioned("a:0", 10, version=info.version).ok
        assert cache.set_versioned("a:0", 11, version=info.version).refusal.value == "changed"
        assert cache.increment_versioned("a:1", 1, version=cache.key_info("a:1").version).value_json == "2"
        before = cache.key_info("a:2")
        assert cache.delete_versioned("a:2", version=before.version).ok
        assert cache.restore_key("a:2", before.value_json, before.expires_at_ms).ok
        assert cache.bulk_set_ttl("a:", 300, dry_run=False).changed == 5
        assert cache.bulk_copy("a:", "b:", move=False, dry_run=False).changed == 5
        assert cache.bulk_copy("b:", "c:", move=True, dry_run=False).changed == 5
        assert [item.key for item in cache.list_keys_natural(prefix="c:")[0].items] == [
            "c:0", "c:1", "c:2", "c:3", "c:4"]
        assert cache.tree_level("").namespaces[0].prefix == "a:"
        report = cache.bulk_delete("c:", dry_run=False, keep_seconds=60)
        assert report.changed == 5 and cache.kept_count(report.undo_token) == 5
        assert cache.bulk_restore(report.undo_token).changed == 5
        assert cache.live_count() == 10
        cache.delete_all()


def test_cross_brand_usage_is_one_round_trip_per_primary(on_local_cluster, monkeypatch):
    ids = brand_ids_per_shard(3) * 4
    brands = [SimpleNamespace(pk=i, quota=SimpleNamespace(max_keys=10)) for i in sorted(set(ids))]
    for brand in brands:
        BrandCache(brand.pk, LIMITS).set("k", 1)
    brands_live_counts(b.pk for b in brands)
    with capture_wire(monkeypatch) as sent:
        usage = brands_live_counts(b.pk for b in brands)
    assert {pk: u.live_keys for pk, u in usage.items()} == {b.pk: 1 for b in brands}
    primaries = {n.address for n in on_local_cluster.initial_primaries}
    assert {c.node for c in sent} == primaries
    assert all(len({c.batch for c in sent if c.node == node}) == 1 for node in primaries)
    for brand in brands:
        BrandCache(brand.pk, LIMITS).delete_all()


def test_a_primary_without_the_scripts_gets_them_loaded(on_local_cluster, monkeypatch):
    """A replica promoted by a failover starts with an empty script cache: only that node says
    NOSCRIPT, and only that node gets SCRIPT LOAD."""
    ids = brand_ids_per_shard(3)
    brands = [SimpleNamespace(pk=i, quota=SimpleNamespace(max_keys=10)) for i in ids]
    caches = [BrandCache(i, LIMITS) for i in ids]
    for cache in caches:
        assert cache.set("k", 1)
    brands_live_counts(b.pk for b in brands)
    emptied = on_local_cluster.initial_primaries[1]
    emptied.client().script_flush()
    with capture_wire(monkeypatch) as sent:
        assert {u.live_keys for u in brands_live_counts(b.pk for b in brands).values()} == {1}
        assert all(cache.set("k2", 2) for cache in caches)
    assert {c.node for c in sent if c.name == "SCRIPT"} == {emptied.address}
    sha = SCRIPTS.get("SET", redis_client()).sha
    assert all(node.client().script_exists(sha) == [True] for node in on_local_cluster.initial_primaries)
    for cache in caches:
        cache.delete_all()


def test_the_redis_panel_lists_every_primary_with_totals(on_local_cluster):
    info = server_info()
    assert info.mode == "cluster"
    assert [n.address for n in info.nodes] == [n.address for n in on_local_cluster.initial_primaries]
    assert [n.slots for n in info.nodes] == ["0-5460", "5461-10921", "10922-16383"]
    assert sum(n.slot_count for n in info.nodes) == 16384
    replicas = {n.address for n in on_local_cluster.nodes[3:]}
    assert all(n.reachable and n.role == "primary" and len(n.replicas) == 1 for n in info.nodes)
    assert {r for n in info.nodes for r in n.replicas} == replicas
    assert info.connected_clients == sum(n.connected_clients for n in info.nodes) >= 3
    assert info.used_memory_human == human_bytes(sum(n.used_memory_bytes for n in info.nodes))
    assert info.ops_per_sec == sum(n.ops_per_sec for n in info.nodes)
    assert info.uptime_seconds == min(n.uptime_seconds for n in info.nodes)
    assert info.version == on_local_cluster.nodes[0].client().info("server")["redis_version"]


def test_the_staff_monitor_shows_the_primaries(on_local_cluster, client, staff_user):
    client.force_login(staff_user)
    html = client.get("/staff/quotas/").content.decode()
    for node in on_local_cluster.initial_primaries:
        assert f"<code>{node.address}</code>" in html
    assert "5461-10921" in html and "<dd>cluster</dd>" in html


def test_healthz_reports_the_cluster_state(on_local_cluster, client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "ok", "cluster_state": "ok"}


def test_human_bytes_writes_sizes_as_redis_does():
    assert [human_bytes(n) for n in (0, 1023, 1024, 1536, 5 * 2**20 + 2**19, 3 * 2**30)] == \
           ["0B", "1023B", "1.00K", "1.50K", "5.50M", "3.00G"]


def test_the_test_sessions_sweep_reaches_every_primary(on_local_cluster):
    """tests/conftest.py's safety net: SCAN on a cluster client visits every primary."""
    from tests.conftest import delete_session_keys

    for brand_id in brand_ids_per_shard(3):
        assert BrandCache(brand_id, LIMITS).set("left:over", 1)
    # Per shard: the value key, the expiry index, the name index's directory, chunk sizes and its
    # one chunk, and the exact analysis' totals, biggest keys and namespace sets by keys and by
    # bytes (brands/cache/accounting.py).
    assert delete_session_keys() == 3 * 9
    assert all(node.client().dbsize() == 0 for node in on_local_cluster.initial_primaries)


def test_script_slots_budget_and_statistics_on_every_shard(on_local_cluster):
    """Fair scheduling's Redis side (brands.cache.script_slots) on brands of every shard: each
    call is one script on the brand's own slot; the statistics of all brands in one pipeline."""
    from brands.cache import brands_script_stats, script_slot_acquire, script_slot_release

    brand_ids = brand_ids_per_shard(3, start=810_000)
    try:
        for brand_id in brand_ids:
            grant = script_slot_acquire(brand_id, "first", cap=1, lease_ms=10_000, budget_ms=600,
                                        count_refusal=True)
            assert grant.granted
            busy = script_slot_acquire(brand_id, "second", cap=1, lease_ms=10_000, budget_ms=600,
                                       count_refusal=True)
            assert busy.status == "busy"
            state = script_slot_release(brand_id, "first", outcome="timeout", duration_ms=500.0,
                                        charge_ms=1000, window_ms=60_000)
            assert state.used_ms == 1000 and 0 < state.window_left_ms <= 60_000
            paused = script_slot_acquire(brand_id, "third", cap=1, lease_ms=10_000, budget_ms=600,
                                         count_refusal=True)
            assert paused.status == "budget" and paused.retry_after_ms > 0
        stats = brands_script_stats(brand_ids)
        for brand_id in brand_ids:
            assert stats[brand_id].counts == {"runs": 3, "busy": 1, "timeout": 1, "budget": 1}
            assert stats[brand_id].durations_ms == (500.0,)
    finally:
        for brand_id in brand_ids:
            BrandCache(brand_id, LIMITS).delete_all()


def test_exact_analysis_works_on_every_shard(on_local_cluster):
    """The analysis keys are derived inside the scripts from the expiry index's name: same hash
    tag, same slot, so every write script and the readers run on the brand's node."""
    limits = CacheLimits(max_keys=200, max_value_bytes=3000, default_ttl=600, max_ttl=600)
    for brand_id in brand_ids_per_shard(3):
        cache = BrandCache(brand_id, limits, raise_unavailable=True)
        for i in range(80):
            assert cache.set(f"n{i % 3}:{i}", "x" * (i * 30))  # some above 2,046 bytes
        for i in range(79, 10, -1):
            cache.delete(f"n{i % 3}:{i}")  # the biggest keys' set shrinks: a rebuild runs
        analysis = cache.analysis()
        assert analysis.live_keys == 11 and analysis.complete and not analysis.rebuilding_biggest
        assert analysis.stored_bytes == sum(i * 30 + 2 for i in range(11)) == cache.stored_bytes_scanned()
        assert [b.key for b in analysis.biggest][:2] == ["n1:10", "n0:9"]
        assert cache.prefix_figures("n1:").keys == 4
        assert cache.analysis_upgrade() == 0
        assert cache.delete_all() == 11
