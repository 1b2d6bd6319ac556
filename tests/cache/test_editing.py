"""The cache service's dashboard-only operations (docs/contract.md#dashboard-use): versioned
writes, restores, bulk deletes that can be undone, bulk TTL, copy and rename with dry runs that
write nothing, the grouped namespace tree and natural order."""

from __future__ import annotations

import random
import threading
import time

import pytest

from brands.cache import (
    SCRIPTS,
    BrandCache,
    CacheKeyError,
    NotANumberError,
    Refusal,
    key_version,
    redis_client,
)


@pytest.fixture
def dash(brand) -> BrandCache:
    """The brand's cache as the dashboard uses it."""
    return BrandCache.for_brand(brand, raise_unavailable=True)


def redis_state(cache: BrandCache) -> dict:
    """Everything Redis holds for the brand (values with TTLs, indexes, counters, bins): the
    tests' way of saying "nothing was written" (SCAN is fine here, on the test's own tag)."""
    client = redis_client()
    state = {}
    tag = cache.keys.value_prefix[: -len("v:")]
    for raw in sorted(client.scan_iter(match=f"{tag}*", count=1000)):
        kind = client.type(raw).decode()
        if kind == "string":
            content = client.get(raw)
        elif kind == "zset":
            content = client.zrange(raw, 0, -1, withscores=True)
        else:
            content = client.hgetall(raw)
        state[raw.decode()] = (kind, content, client.pttl(raw) > 0)
    return state


# ---------------------------------------------------------------------------- versioned writes


def test_version_is_the_expiry_and_the_sha1_of_the_text(dash):
    dash.set("k", {"a": 1}, 100)
    info = dash.key_info("k")
    assert info.version == key_version('{"a":1}', info.expires_at_ms)
    # The expiry is Redis' own: it agrees with the TTL read in the same script.
    now_ms = int(redis_client().time()[0]) * 1000
    assert abs(info.expires_at_ms - (now_ms + info.ttl_seconds * 1000)) < 1500


def test_versioned_set_keeps_the_expiry_unless_asked(dash):
    dash.set("k", 1, 100)
    before = dash.key_info("k")
    result = dash.set_versioned("k", 2, version=before.version)
    assert result.ok and result.expires_at_ms == before.expires_at_ms
    after = dash.key_info("k")
    assert after.value == 2 and after.expires_at_ms == before.expires_at_ms
    assert after.ttl_seconds <= 100
    # An explicit TTL is set anew.
    result = dash.set_versioned("k", 3, version=after.version, ttl=3000)
    assert result.ok and 2990 < dash.key_info("k").ttl_seconds <= 3000
    assert result.expires_at_ms == dash.key_info("k").expires_at_ms


def test_versioned_set_refuses_a_changed_key_and_writes_nothing(dash, cache):
    dash.set("k", "seen", 100)
    seen = dash.key_info("k")
    cache.set("k", "by a script", 100)  # changed meanwhile (same TTL, other value)
    assert dash.set_versioned("k", "mine", version=seen.version).refusal is Refusal.CHANGED
    assert cache.get("k") == "by a script"
    # Same value, new expiry: a change too (a script re-set it).
    now = dash.key_info("k")
    time.sleep(0.01)
    cache.set("k", "by a script", 100)
    assert dash.set_versioned("k", "mine", version=now.version).refusal is Refusal.CHANGED


def test_versioned_set_never_recreates_a_deleted_or_expired_key(dash):
    dash.set("gone", 1, 100)
    dash.set("short", 1, 1)
    gone, short = dash.key_info("gone"), dash.key_info("short")
    dash.delete("gone")
    time.sleep(1.1)
    assert dash.set_versioned("gone", 2, version=gone.version).refusal is Refusal.GONE
    assert dash.set_versioned("short", 2, version=short.version).refusal is Refusal.GONE
    assert not dash.has("gone") and not dash.has("short") and dash.live_count() == 0


def test_versioned_delete_and_increment(dash, cache):
    dash.set("n", 5, 100)
    seen = dash.key_info("n")
    cache.increment("n")  # a script counts meanwhile
    assert dash.increment_versioned("n", 10, version=seen.version).refusal is Refusal.CHANGED
    assert dash.delete_versioned("n", version=seen.version).refusal is Refusal.CHANGED
    assert cache.get("n") == 6
    now = dash.key_info("n")
    result = dash.increment_versioned("n", 0.5, version=now.version)
    assert result.ok and result.value_json == "6.5" and result.expires_at_ms == now.expires_at_ms
    assert dash.delete_versioned("n", version=dash.key_info("n").version).ok
    assert dash.delete_versioned("n", version=now.version).refusal is Refusal.GONE
    dash.set("s", "text")
    with pytest.raises(NotANumberError):
        dash.increment_versioned("s", 1, version=dash.key_info("s").version)


def test_versioned_write_is_atomic_against_a_racing_writer(dash, brand):
    """Many dashboard saves against the same version while another process keeps writing: a
    save either happens on exactly the value it saw, or is refused; never in between."""
    dash.set("race", 0, 600)
    other = BrandCache.for_brand(brand)
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            other.increment("race")

    thread = threading.Thread(target=writer)
    thread.start()
    outcomes = []
    try:
        for _ in range(200):
            seen = dash.key_info("race")
            result = dash.set_versioned("race", -1000, version=seen.version)
            outcomes.append(result.refusal)
            if result.ok:
                dash.set("race", 0, 600)
    finally:
        stop.set()
        thread.join()
    assert Refusal.CHANGED in outcomes  # the race happened
    assert set(outcomes) <= {None, Refusal.CHANGED}


def test_contract_operations_ignore_versions(cache):
    """The six contract operations are unchanged: no version, no check, same answers."""
    assert cache.set("k", 1) and cache.set("k", 2)
    assert cache.increment("k") == 3 and cache.delete("k") and cache.delete("k")
    assert SCRIPTS.get("SET", redis_client()).script.count("ARGV[7]") == 1  # read once, in its section


# ---------------------------------------------------------------------------- restore


def test_restore_a_deleted_key_with_its_old_expiry(dash):
    dash.set("k", {"v": 1}, 100)
    before = dash.key_info("k")
    dash.delete("k")
    result = dash.restore_key("k", before.value_json, before.expires_at_ms)
    assert result.ok
    again = dash.key_info("k")
    assert again.value == {"v": 1} and again.expires_at_ms == before.expires_at_ms
    # Restoring again: the key exists, so something (the restore) stands in the way.
    assert dash.restore_key("k", before.value_json, before.expires_at_ms).refusal is Refusal.EXISTS


def test_restore_refusals(dash, brand_factory):
    dash.set("k", 1, 100)
    info = dash.key_info("k")
    # Past its expiry: it would have expired anyway.
    assert dash.restore_key("gone", "1", info.expires_at_ms - 200_000).refusal is Refusal.EXPIRED
    # Only if the key is still as expected.
    assert dash.restore_key("k", "0", info.expires_at_ms, expect_version="1:00").refusal is Refusal.CHANGED
    gone = dash.restore_key("nope", "0", info.expires_at_ms, expect_version=info.version)
    assert gone.refusal is Refusal.GONE
    assert dash.restore_key("k", "0", info.expires_at_ms, expect_version=info.version).ok
    # The key limit holds for restores too.
    full = BrandCache.for_brand(brand_factory(max_keys=1), raise_unavailable=True)
    full.set("a", 1)
    assert full.restore_key("b", "1", info.expires_at_ms).refusal is Refusal.KEY_LIMIT
    assert full.refused_writes()["key_limit"] == 1 and not full.has("b")


# ---------------------------------------------------------------------------- bulk delete + undo


def test_bulk_delete_keeps_values_outside_the_count_and_listings(dash):
    for i in range(30):
        dash.set(f"tmp:{i:02d}", {"i": i}, 600)
    dash.set("keep", 1)
    report = dash.bulk_delete("tmp:", dry_run=False, keep_seconds=3600)
    assert report.changed == 30 and report.undo_token and report.undo_until_ms
    # Kept, but invisible: no count, no listing, no tree, no stored bytes.
    assert dash.live_count() == 1 and dash.count_prefix("tmp:") == 0
    assert [item.key for item in dash.list_keys().items] == ["keep"]
    assert [node.prefix for node in dash.namespace_tree("")] == ["keep"]
    assert dash.stored_bytes() == 1
    assert dash.kept_count(report.undo_token) == 30
    ttl = redis_client().pttl(dash.keys.bin(report.undo_token))
    assert 3_500_000 < ttl <= 3_600_000
    # Undo: every key back with its value and old expiry; the bin empties.
    restored = dash.bulk_restore(report.undo_token)
    assert restored.changed == 30 and restored.refused == {}
    assert dash.get("tmp:07") == {"i": 7} and 590 < dash.key_info("tmp:07").ttl_seconds <= 600
    assert dash.kept_count(report.undo_token) == 0


def test_bulk_restore_refuses_what_stands_in_the_way(dash, brand_factory):
    small = BrandCache.for_brand(brand_factory(max_keys=4), raise_unavailable=True)
    for key in ("a:1", "a:2", "a:3"):
        assert small.set(key, key, 600)
    assert small.set("a:short", 0, 1)
    report = small.bulk_delete("a:", dry_run=False, keep_seconds=600)
    assert report.changed == 4
    small.set("a:1", "new")  # created again since
    for key in ("x", "y", "z"):
        assert small.set(key, 1)  # the brand is full again
    time.sleep(1.1)  # a:short's own expiry passes
    restored = small.bulk_restore(report.undo_token)
    assert restored.changed == 0
    assert restored.refused == {Refusal.EXISTS: 1, Refusal.KEY_LIMIT: 2, Refusal.EXPIRED: 1}
    assert small.get("a:1") == "new"
    # Room made: the refused ones can be restored later, within the window.
    small.delete("x")
    small.delete("y")
    again = small.bulk_restore(report.undo_token)
    assert again.changed == 2 and small.get("a:2") == "a:2" and small.get("a:3") == "a:3"
    assert again.refused == {Refusal.EXISTS: 1}
    assert small.live_count() == 4


def test_kept_values_expire_with_their_window_and_go_with_the_brand(dash):
    dash.set("t:1", 1)
    short = dash.bulk_delete("t:", dry_run=False, keep_seconds=1)
    dash.set("t:2", 2)
    long = dash.bulk_delete("t:", dry_run=False, keep_seconds=600)
    time.sleep(1.1)
    assert dash.kept_count(short.undo_token) == 0
    assert dash.bulk_restore(short.undo_token).matched == 0
    assert dash.kept_count(long.undo_token) == 1
    dash.delete_all()
    assert redis_state(dash) == {}


def test_bulk_delete_without_keeping(dash):
    dash.set("a:1", 1)
    report = dash.bulk_delete("a:", dry_run=False)
    assert report.changed == 1 and report.undo_token == "" and dash.live_count() == 0


# ---------------------------------------------------------------------------- dry runs


def _world(dash):
    for i in range(12):
        dash.set(f"src:{i}", {"i": i}, 600)
    dash.set("dst:3", "taken", 600)
    dash.set("dead:1", 1, 1)
    time.sleep(1.1)  # dead:1 expired: its index entries stay until something prunes them


@pytest.mark.parametrize("operation", ["delete", "set_ttl", "copy", "rename", "copy_overwrite"])
def test_dry_runs_write_nothing(dash, operation):
    _world(dash)
    before = redis_state(dash)
    assert any("dead:1" in str(content) for _kind, content, _ttl in before.values())  # the stale entry
    reports = {
        "delete": lambda: dash.bulk_delete("src:", dry_run=True),
        "set_ttl": lambda: dash.bulk_set_ttl("src:", 60, dry_run=True),
        "copy": lambda: dash.bulk_copy("src:", "dst:", move=False, dry_run=True),
        "rename": lambda: dash.bulk_copy("src:", "dst:", move=True, dry_run=True),
        "copy_overwrite": lambda: dash.bulk_copy("src:", "dst:", move=False, overwrite=True, dry_run=True),
    }
    report = reports[operation]()
    assert report.dry_run and report.matched == 12
    after = redis_state(dash)
    # Same keys, same values, same indexes (not even pruned), same counters.
    assert {k: (kind, content) for k, (kind, content, _) in after.items()} == {
        k: (kind, content) for k, (kind, content, _) in before.items()}


def test_dry_run_reports_what_would_change_and_be_refused(dash, brand_factory):
    _world(dash)
    copy = dash.bulk_copy("src:", "dst:", move=False, dry_run=True)
    assert copy.changed == 11 and copy.refused == {Refusal.EXISTS: 1}
    assert copy.refused_sample == [("src:3", "the key exists")]
    assert copy.sample[0] == ("src:0", "dst:0") and len(copy.sample) == 10
    ttl = dash.bulk_set_ttl("src:", 60, dry_run=True)
    assert ttl.changed == 12 and ttl.sample[0][1].endswith("→ 60 s")
    # The key limit: only the room left.
    small = BrandCache.for_brand(brand_factory(max_keys=5), raise_unavailable=True)
    for i in range(3):
        small.set(f"a:{i}", i)
    report = small.bulk_copy("a:", "b:", move=False, dry_run=True)
    assert report.changed == 2 and report.refused == {Refusal.KEY_LIMIT: 1}
    # Renaming adds no key, so the limit does not refuse it.
    assert small.bulk_copy("a:", "b:", move=True, dry_run=True).changed == 3


def test_dry_run_agrees_with_the_real_run(dash):
    _world(dash)
    preview = dash.bulk_copy("src:", "dst:", move=True, dry_run=True)
    done = dash.bulk_copy("src:", "dst:", move=True, dry_run=False)
    assert (done.changed, done.refused, done.sample) == (preview.changed, preview.refused, preview.sample)


# ---------------------------------------------------------------------------- bulk TTL, copy, rename


def test_bulk_set_ttl(dash):
    dash.set("a:1", 1, 3000)
    dash.set("a:2", 2, 10)
    dash.set("b", 3, 3000)
    report = dash.bulk_set_ttl("a:", 120, dry_run=False)
    assert report.changed == 2
    for key in ("a:1", "a:2"):
        info = dash.key_info(key)
        assert 110 < info.ttl_seconds <= 120
        assert dash.key_info(key).version  # the index follows the TTL
    assert dash.key_info("b").ttl_seconds > 2900


def test_copy_keeps_values_and_expiries_and_respects_the_limit(brand_factory):
    cache = BrandCache.for_brand(brand_factory(max_keys=6), raise_unavailable=True)
    for i in range(4):
        cache.set(f"a:{i}", {"i": i}, 100 + i)
    report = cache.bulk_copy("a:", "b:", move=False, dry_run=False)
    assert report.changed == 2 and report.refused == {Refusal.KEY_LIMIT: 2}
    assert cache.live_count() == 6
    assert cache.get("b:0") == {"i": 0}
    assert cache.key_info("b:1").expires_at_ms == cache.key_info("a:1").expires_at_ms


def test_rename_moves_each_key_atomically(dash):
    for i in range(5):
        dash.set(f"old:{i}", i, 500)
    dash.set("new:2", "there first", 500)
    expiry = dash.key_info("old:0").expires_at_ms
    report = dash.bulk_copy("old:", "new:", move=True, dry_run=False)
    assert report.changed == 4 and report.refused == {Refusal.EXISTS: 1}
    assert dash.count_prefix("old:") == 1 and dash.get("old:2") == 2  # refused: left where it was
    assert dash.get("new:2") == "there first" and dash.get("new:4") == 4
    assert dash.key_info("new:0").expires_at_ms == expiry and dash.live_count() == 6
    # With overwrite, the existing key is replaced and the brand has one key fewer.
    again = dash.bulk_copy("old:", "new:", move=True, overwrite=True, dry_run=False)
    assert again.changed == 1 and dash.get("new:2") == 2 and dash.live_count() == 5


def test_copy_into_its_own_namespace_does_not_loop(dash):
    for i in range(3):
        dash.set(f"a:{i}", i)
    report = dash.bulk_copy("a:", "a:copy:", move=False, dry_run=False)
    assert report.matched == 3 and report.changed == 3
    assert sorted(item.key for item in dash.list_keys(prefix="a:").items) == [
        "a:0", "a:1", "a:2", "a:copy:0", "a:copy:1", "a:copy:2"]


def test_copy_refuses_names_that_would_not_be_keys(dash):
    dash.set("a:" + "x" * 190, 1)
    report = dash.bulk_copy("a:", "a-much-longer-prefix:", move=False, dry_run=False)
    assert report.changed == 0 and report.refused == {Refusal.INVALID_NAME: 1}
    with pytest.raises(CacheKeyError):
        dash.bulk_copy("a:", "a:", move=False, dry_run=True)
    with pytest.raises(CacheKeyError):
        dash.bulk_copy("", "b:", move=False, dry_run=True)


# ---------------------------------------------------------------------------- tree, natural order


def test_tree_level_groups_fan_outs_and_names_keys_ending_with_a_colon(dash):
    for i in range(200):
        dash.set(f"customer:{i}", i)
    dash.set("customer:", "the namespace's own key")
    dash.set("customer:vip:1", 1)
    root = dash.tree_level("")
    assert [(n.prefix, n.key_count) for n in root.namespaces] == [("customer:", 202)]
    level = dash.tree_level("customer:", max_leaves=25)
    assert [n.prefix for n in level.namespaces] == ["customer:vip:"]
    assert level.leaf_count == 201 and level.leaves == [] and level.leaves_grouped
    small = dash.tree_level("customer:", max_leaves=500)
    assert small.leaves[0].prefix == "customer:" and small.leaves[0].label == "customer:"
    assert not small.leaves_grouped and len(small.leaves) == 201


def test_tree_level_stops_at_its_bounds(dash):
    for i in range(30):
        dash.set(f"ns{i:02d}:k", i)
    level = dash.tree_level("", max_namespaces=10)
    assert len(level.namespaces) == 10 and level.truncated


@pytest.mark.parametrize("seed", range(6))
def test_tree_level_matches_a_recount_whatever_mixes_plain_keys_and_namespaces(dash, seed):
    # The tree reads names in steps that grow while plain keys follow and start again at one after
    # each namespace it jumps over: runs of plain keys of every length (across the index's
    # 120-name chunks too) between namespaces must give the level a plain recount gives.
    rng = random.Random(seed)
    names = set()
    for run in range(rng.randint(3, 12)):
        for j in range(rng.choice([0, 1, 2, 5, 40, 130, 300])):
            names.add(f"p:leaf{run:02d}-{j:03d}")
        for j in range(rng.randint(1, 30)):
            names.add(f"p:ns{run:02d}:{j}")
    dash.set_many([(name, 1) for name in sorted(names)], ttl=600)
    for max_leaves in (25, 2000):
        level = dash.tree_level("p:", max_leaves=max_leaves)
        rest = [name[2:] for name in sorted(names)]
        expected_ns = sorted({("p:" + r.split(":")[0] + ":") for r in rest if ":" in r})
        counts = {ns: sum(1 for name in names if name.startswith(ns)) for ns in expected_ns}
        leaves = sorted("p:" + r for r in rest if ":" not in r)
        assert [(n.prefix, n.key_count) for n in level.namespaces] == [(ns, counts[ns]) for ns in expected_ns]
        assert level.leaf_count == len(leaves) and not level.truncated
        listed = [n.prefix for n in level.leaves]
        assert listed == (leaves if len(leaves) <= max_leaves else [])


def test_natural_order(dash):
    for i in (1, 2, 10, 20, 100):
        dash.set(f"user:{i}", i)
    dash.set("user:2:x", 1)
    page, total = dash.list_keys_natural(prefix="user:", limit=3)
    assert total == 6 and [item.key for item in page.items] == ["user:1", "user:2", "user:2:x"]
    assert page.next_cursor == "3"
    page, _ = dash.list_keys_natural(prefix="user:", offset=3, limit=3)
    assert [item.key for item in page.items] == ["user:10", "user:20", "user:100"]
    assert page.next_cursor is None


# ---------------------------------------------------------------------------- layout


def test_every_key_a_dashboard_script_names_carries_the_brand_tag(dash, monkeypatch):
    """Redis Cluster: a script may only touch keys of one slot, named in KEYS."""
    seen: list[tuple[str, list]] = []
    real = SCRIPTS.run

    def spy(name, client, keys, args):
        seen.append((name, list(keys)))
        return real(name, client, keys, args)

    monkeypatch.setattr(SCRIPTS, "run", spy)
    tag = f"{{{dash.brand_id}}}"
    dash.set("a:1", 1)
    info = dash.key_info("a:1")
    dash.set_versioned("a:1", 2, version=info.version)
    dash.bulk_set_ttl("a:", 60, dry_run=False)
    dash.bulk_copy("a:", "b:", move=False, dry_run=False)
    dash.bulk_copy("b:", "c:", move=True, dry_run=False)
    dash.list_keys_natural(prefix="a:")
    dash.tree_level("")
    report = dash.bulk_delete("a:", dry_run=False, keep_seconds=60)
    dash.bulk_restore(report.undo_token)
    dash.restore_key("z", "1", info.expires_at_ms + 10_000)
    names = {name for name, _ in seen}
    assert {"SET", "READ_KEY", "BULK_TTL", "COPY_KEYS", "LIVE_NAMES", "READ_MANY", "TREE_GROUPED",
            "BIN_DELETE", "BIN_RESTORE", "RESTORE"} <= names
    new_scripts = {"READ_KEY", "RESTORE", "LIVE_NAMES", "READ_MANY", "BIN_DELETE", "BIN_RESTORE", "BULK_TTL",
                   "COPY_KEYS", "TREE_GROUPED"}
    for name, keys in seen:
        if name in new_scripts:
            assert keys and all(tag in key for key in keys), (name, keys)


def test_limits_lowered_since_still_hold_for_copies_and_restores(brand_factory):
    brand = brand_factory(max_value_bytes=100)
    cache = BrandCache.for_brand(brand, raise_unavailable=True)
    cache.set("a:small", "x", 3000)
    cache.set("a:big", "y" * 60, 3000)
    before = cache.key_info("a:big")
    report = cache.bulk_delete("a:", dry_run=False, keep_seconds=600)
    cache.set("b:big", "y" * 60, 3000)
    # Staff lower the value limit and the maximum TTL meanwhile.
    brand.quota.max_value_bytes, brand.quota.max_ttl, brand.quota.default_ttl = 20, 100, 100
    brand.quota.save()
    cache = BrandCache.for_brand(brand, raise_unavailable=True)
    preview = cache.bulk_copy("b:", "c:", move=False, dry_run=True)
    assert preview.refused == {Refusal.TOO_LARGE: 1}
    done = cache.bulk_copy("b:", "c:", move=False, dry_run=False)
    assert done.refused == preview.refused and not cache.has("c:big")
    restored = cache.bulk_restore(report.undo_token)
    assert restored.changed == 1 and restored.refused == {Refusal.TOO_LARGE: 1}
    assert cache.key_info("a:small").ttl_seconds <= 100  # cut to today's maximum TTL
    assert cache.restore_key("a:big", before.value_json, before.expires_at_ms).refusal is Refusal.TOO_LARGE
    again = cache.restore_key("a:x", '"z"', before.expires_at_ms)
    assert again.ok and cache.key_info("a:x").ttl_seconds <= 100
