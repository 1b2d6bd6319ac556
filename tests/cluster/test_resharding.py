"""Resharding, measured: a brand's slot migrated to another primary (CLUSTER SETSLOT IMPORTING /
MIGRATING, then MIGRATE in small batches, as ``redis-cli --cluster reshard`` does) while the
brand writes continuously. Keys already moved answer ASK (redis-py follows it); a script whose
keys are split between the two nodes answers TRYAGAIN, which redis-py retries and, once its
retries are spent, the service answers "cache unavailable" (nothing written): never a 500. No
acknowledged write is lost and the key limit stays exact."""

from __future__ import annotations

import time
from collections import defaultdict

import pytest
from redis.crc import key_slot

from brands.cache import (
    UNAVAILABLE_WARNING,
    BrandCache,
    CacheLimits,
    CacheUnavailable,
    ClusterConnectionFactory,
)
from tests.cluster.conftest import brand_ids_per_shard, cluster_caches
from tests.cluster.load import Writer
from tests.cluster.redis_cluster import LocalCluster, redis_server_binary

MAX_KEYS = 100
OLD_KEYS = 80
LIMITS = CacheLimits(max_keys=MAX_KEYS, max_value_bytes=64, default_ttl=600, max_ttl=600)


def _binary_or_skip() -> str:
    try:
        return redis_server_binary()
    except (RuntimeError, ImportError) as exc:
        pytest.skip(f"no redis-server to start a cluster with: {exc}")


class Ledger:
    """What each writer was told: per key, the last acknowledged value and the values tried
    since without an answer either way ("cache unavailable": may or may not have been written;
    TRYAGAIN never writes, a timeout might have)."""

    def __init__(self) -> None:
        self.acked: dict[str, object] = {}
        self.deleted: set[str] = set()
        self.unsure: dict[str, list] = defaultdict(list)

    def record(self, cache: BrandCache, key: str, value, ok: bool) -> None:
        if ok:
            self.acked[key] = value
            self.deleted.discard(key)
            self.unsure.pop(key, None)
        elif cache.warnings and cache.warnings[-1] == UNAVAILABLE_WARNING:
            self.unsure[key].append(value)


@pytest.mark.slow
def test_migrating_a_brands_slot_during_writes_loses_nothing_and_keeps_the_limit(tmp_path, settings):
    binary = _binary_or_skip()
    with LocalCluster(3, 1, node_timeout_ms=1000, binary=binary, base_dir=tmp_path) as cluster:
        try:
            settings.CACHES = cluster_caches(cluster.url)
            brand_id = brand_ids_per_shard(3)[0]
            slot = key_slot(BrandCache(brand_id, LIMITS).keys.stats.encode())
            setup = BrandCache(brand_id, LIMITS, raise_unavailable=True)
            for j in range(OLD_KEYS):
                assert setup.set(f"old:{j}", j)
            # A brand that has had a refusal has its stats hash; without it every script of the
            # brand (each declares it) gets TRYAGAIN for the whole move (see the README).
            assert setup.set("big", "x" * 100) is False
            ledger = Ledger()
            for j in range(OLD_KEYS):
                ledger.acked[f"old:{j}"] = j
            counter = {"acked": 0, "unsure": 0}
            created: list[str] = []

            def update(cache: BrandCache, i: int) -> bool:
                key = f"old:{i % OLD_KEYS}"
                ok = cache.set(key, 1000 + i)
                ledger.record(cache, key, 1000 + i, ok)
                return ok

            def create(cache: BrandCache, i: int) -> bool:
                # New keys up to the limit; every 7th call deletes one made before (a freed slot).
                if i % 7 == 6 and created:
                    key = created.pop(0)
                    ok = cache.delete(key)
                    if ok:
                        ledger.acked.pop(key, None)
                        ledger.deleted.add(key)
                    else:
                        created.insert(0, key)
                    return ok
                key = f"new:{i}"
                ok = cache.set(key, i)
                ledger.record(cache, key, i, ok)
                if ok:
                    created.append(key)
                return ok or bool(cache.warnings and cache.warnings[-1].startswith("key limit"))

            def increment(cache: BrandCache, i: int) -> bool:
                value = cache.increment("counter")
                if value is None:
                    counter["unsure"] += 1
                else:
                    counter["acked"], counter["unsure"] = value, 0
                return value is not None

            def read_admin(cache: BrandCache, i: int) -> bool:
                try:
                    page = cache.list_keys(limit=20)
                    assert cache.live_count() <= MAX_KEYS and len(page.items) <= 20
                except CacheUnavailable:
                    cache.warnings.append(UNAVAILABLE_WARNING)
                return True

            writers = [
                Writer(BrandCache(brand_id, LIMITS), update),
                Writer(BrandCache(brand_id, LIMITS), create, pause_s=0.02),
                Writer(BrandCache(brand_id, LIMITS), increment),
                Writer(BrandCache(brand_id, LIMITS), read_admin, pause_s=0.01),
            ]
            for writer in writers:
                writer.start()
            try:
                time.sleep(0.2)
                source = cluster.primary_of_slot(slot)
                target = next(n for n in cluster.initial_primaries if n.port != source.port)
                started = time.monotonic()
                moved = cluster.migrate_slot(slot, target, batch=5, pause_s=0.05)
                finished = time.monotonic()
                time.sleep(1.0)  # writes after the move, on the new owner
            finally:
                for writer in writers:
                    writer.stop()

            for writer in writers:
                assert not writer.raised, writer.tracebacks  # nothing raised: no 500
                assert not writer.other_failures or writer is writers[1]  # only key-limit refusals
            assert cluster.primary_of_slot(slot).port == target.port
            assert source.client().execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 0
            during = [a for w in writers for a in w.between(started, finished)]
            unavailable = [a for a in during if a.warning == UNAVAILABLE_WARNING]

            # No acknowledged write lost: each key holds its last acknowledged value, or a value
            # tried after it whose answer was "cache unavailable".
            check = BrandCache(brand_id, LIMITS, raise_unavailable=True)
            for key, value in ledger.acked.items():
                assert check.get(key) in (value, *ledger.unsure.get(key, ())), key
            for key in ledger.deleted:
                assert check.get(key) in (None, *ledger.unsure.get(key, ())), key
            final_counter = check.get("counter")
            assert counter["acked"] <= final_counter <= counter["acked"] + counter["unsure"]
            # The key limit is exact: both indexes agree with the values, and the creator was
            # refused only at the limit, which it reached.
            names = [item.key for item in check.list_keys(limit=1000).items]
            assert check.live_count() == len(names) <= MAX_KEYS
            assert set(ledger.acked) <= set(names) and "counter" in names
            unsure_only = set(names) - set(ledger.acked) - {"counter"}
            assert unsure_only <= set(ledger.unsure), unsure_only
            # The creator reached the limit and was refused there; its last call may have been one
            # of its deletes (every 7th), or a create into the slot a delete had just freed.
            creator_answers = writers[1].answers
            assert any(answer.warning.startswith("key limit") for answer in creator_answers)
            assert MAX_KEYS - 1 <= len(names) <= MAX_KEYS
            acked_during = [a for a in during if a.ok]
            print(
                f"\nresharding: slot {slot} ({moved} keys) moved {source.address} -> "
                f"{target.address} in {finished - started:.2f} s under "
                f"{len(during)} calls of 4 writers ({len(acked_during)} acknowledged); "
                f"{len(unavailable)} answered 'cache unavailable' (TRYAGAIN, or a key already "
                f"moved, once redis-py's retries were spent); {len(ledger.acked)} keys checked, "
                f"none lost; "
                f"{len(names)} keys live of {MAX_KEYS} allowed"
            )
            assert len(during) > len(unavailable)  # the brand kept working during the move
        finally:
            ClusterConnectionFactory.forget(cluster.url)


def test_a_script_sent_by_ask_to_a_node_without_it_gets_it_loaded(tmp_path, settings):
    """Mid-migration, a brand whose keys have all moved is served by the importing node after an
    ASK redirection; that node may never have run the script (NOSCRIPT), and the slot map still
    names the source: loading the script only where the map points would never end."""
    binary = _binary_or_skip()
    with LocalCluster(3, 0, node_timeout_ms=1000, binary=binary, base_dir=tmp_path) as cluster:
        try:
            settings.CACHES = cluster_caches(cluster.url)
            brand_id = brand_ids_per_shard(3)[0]
            cache = BrandCache(brand_id, LIMITS, raise_unavailable=True)
            assert cache.set("a", 1) and cache.increment("n") == 1
            # A refusal creates the brand's stats hash: a script declaring a key that exists on
            # neither node would get TRYAGAIN (multi-key, keys missing) until the move ends.
            assert cache.set("big", "x" * 100) is False
            slot = key_slot(cache.keys.stats.encode())
            source = cluster.primary_of_slot(slot)
            target = next(n for n in cluster.initial_primaries if n.port != source.port)
            target.client().script_flush()
            # Every key moved, the slot not yet handed over: the source answers ASK.
            source_client, target_client = source.client(), target.client()
            target_client.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING",
                                          source_client.execute_command("CLUSTER", "MYID"))
            source_client.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING",
                                          target_client.execute_command("CLUSTER", "MYID"))
            keys = source_client.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100)
            source_client.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys)
            assert cache.set("a", 2) and cache.increment("n") == 2
            assert cache.live_count() == 2 and cache.get("a") == 2
            assert cluster.primary_of_slot(slot).port == source.port  # still mid-migration
        finally:
            ClusterConnectionFactory.forget(cluster.url)


def test_a_delete_whose_name_chunk_moved_first_changes_nothing(tmp_path, settings):
    """The name index's chunks are keys the scripts build, not declare. Mid-migration a chunk
    may be on the other node while every declared key is still here: the delete must fail as a
    whole ("cache unavailable", value and indexes untouched), not after deleting the value."""
    binary = _binary_or_skip()
    with LocalCluster(3, 0, node_timeout_ms=1000, binary=binary, base_dir=tmp_path) as cluster:
        try:
            settings.CACHES = cluster_caches(cluster.url)
            brand_id = brand_ids_per_shard(3)[0]
            cache = BrandCache(brand_id, LIMITS)
            assert cache.set("a", 1) and cache.set("b", 2)
            assert cache.set("big", "x" * 100) is False  # the stats hash exists (see above)
            slot = key_slot(cache.keys.stats.encode())
            source = cluster.primary_of_slot(slot)
            target = next(n for n in cluster.initial_primaries if n.port != source.port)
            source_client, target_client = source.client(), target.client()
            target_client.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING",
                                          source_client.execute_command("CLUSTER", "MYID"))
            source_client.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING",
                                          target_client.execute_command("CLUSTER", "MYID"))
            source_client.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000,
                                          "KEYS", cache.keys.name_chunk(""))
            cache.warnings.clear()
            assert cache.delete("a") is False and cache.warnings == [UNAVAILABLE_WARNING]
            assert cache.get("a") == 1  # nothing was deleted
            # The move completes; the brand is whole on its new node.
            keys = source_client.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100)
            source_client.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys)
            target_id = target_client.execute_command("CLUSTER", "MYID")
            for node in cluster.initial_primaries:
                node.client().execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
            check = BrandCache(brand_id, LIMITS, raise_unavailable=True)
            assert [item.key for item in check.list_keys().items] == ["a", "b"]
            assert check.count_prefix("") == 2 == check.live_count()
            assert check.delete("a") and check.count_prefix("") == 1 == check.live_count()
        finally:
            ClusterConnectionFactory.forget(cluster.url)
