"""The chunked name index (brands/cache/scripts.py, issue 14 item 7): names in sorted sets of at
most NAMES_CHUNK names under a directory of lower bounds. Whatever order keys come and go in, the
chunks hold exactly the live names, each inside its bounds, each small enough to stay a compact
listpack; paging, prefixes, counts and the tree agree with a plain sorted list; the old one-set
index is upgraded in bounded batches; and it takes a fraction of the memory of one sorted set."""

from __future__ import annotations

import random

import pytest
from django.core.management import call_command

from brands.cache import NAMES_CHUNK, BrandCache, redis_client

COMPACT = {b"listpack", b"ziplist"}  # Redis 7 / Redis 6.2 names of the compact encoding


@pytest.fixture
def big(brand_factory) -> BrandCache:
    return BrandCache.for_brand(brand_factory(max_keys=5000), raise_unavailable=True)


def chunks(cache: BrandCache) -> list[tuple[str, list[str]]]:
    client = redis_client()
    bounds = [b.decode() for b in client.zrange(cache.keys.name_index, 0, -1)]
    return [(b, [n.decode() for n in client.zrange(cache.keys.name_chunk(b), 0, -1)]) for b in bounds]


def assert_well_formed(cache: BrandCache, live: set[str]) -> None:
    layout = chunks(cache)
    client = redis_client()
    assert [name for _, names in layout for name in names] == sorted(live)
    if live:
        assert layout[0][0] == ""  # the first chunk takes every name below the second's bound
    for i, (bound, names) in enumerate(layout):
        assert 0 < len(names) <= NAMES_CHUNK
        assert names[0] >= bound
        if i + 1 < len(layout):
            assert names[-1] < layout[i + 1][0]
        assert client.object("encoding", cache.keys.name_chunk(bound)) in COMPACT
    sizes = {k.decode(): int(v) for k, v in client.hgetall(cache.keys.name_chunk_sizes).items()}
    assert sizes == {bound: len(names) for bound, names in layout}


def all_pages(cache: BrandCache, prefix: str = "", limit: int = 37) -> list[str]:
    seen, after = [], None
    while True:
        page = cache.list_keys(prefix=prefix, after=after, limit=limit)
        seen += [item.key for item in page.items]
        if page.next_cursor is None:
            return seen
        after = page.next_cursor


def test_random_writes_and_deletes_keep_the_chunks_exact(big):
    rng = random.Random(14)
    universe = [f"{ns}:{i:04d}" for ns in ("a", "b", "b:c", "d") for i in range(300)] + ["z", "a"]
    live: set[str] = set()
    for _ in range(3):
        rng.shuffle(universe)
        for name in universe[:700]:
            assert big.set(name, 1)
            live.add(name)
        assert_well_formed(big, live)
        for name in rng.sample(sorted(live), 450):
            assert big.delete(name)
            live.discard(name)
        assert_well_formed(big, live)
    assert len(chunks(big)) > 3  # the test spans several chunks
    assert all_pages(big) == sorted(live)
    for prefix in ("a", "a:", "b:", "b:c:", "d:01", "z", "q"):
        expected = sorted(n for n in live if n.startswith(prefix))
        assert all_pages(big, prefix) == expected, prefix
        assert big.count_prefix(prefix) == len(expected), prefix
    assert big.live_count() == len(live)
    tree = {node.label: node.key_count for node in big.namespace_tree("b:")}
    assert tree == {"c:": sum(n.startswith("b:c:") for n in live),
                    **{n[2:]: 1 for n in live if n.startswith("b:") and not n.startswith("b:c:")}}


def test_keys_written_in_order_fill_whole_chunks(big):
    names = [f"item:{i:05d}" for i in range(NAMES_CHUNK * 4 + 7)]
    assert all(big.set_many((name, 1) for name in names))
    layout = chunks(big)
    assert [len(n) for _, n in layout] == [NAMES_CHUNK] * 4 + [7]
    assert_well_formed(big, set(names))


def test_emptying_the_first_chunk_hands_its_bound_on(big):
    names = [f"k{i:04d}" for i in range(NAMES_CHUNK * 2 + 1)]
    assert all(big.set_many((name, 1) for name in names))
    assert len(chunks(big)) == 3
    assert all(big.delete(name) for name in names[:NAMES_CHUNK])  # the whole first chunk
    assert_well_formed(big, set(names[NAMES_CHUNK:]))
    assert big.set("a", 1)  # below every remaining name: the first chunk, bound ""
    assert_well_formed(big, {"a", *names[NAMES_CHUNK:]})
    assert big.delete_all() == NAMES_CHUNK + 2
    assert redis_client().exists(big.keys.name_index, big.keys.name_chunk_sizes) == 0 and chunks(big) == []


def test_expired_names_leave_the_chunks(big):
    assert all(big.set_many(((f"t{i:03d}", 1) for i in range(200)), 1))
    assert big.set("stay", 1)
    redis_client().pexpire(big.keys.value("t000"), 1)  # the values go; the index is pruned lazily
    import time

    time.sleep(1.1)
    assert big.prune_expired() == 200
    assert_well_formed(big, {"stay"})


def test_the_old_single_set_index_is_upgraded_in_batches(big, brand_factory, capsys):
    names = [f"old:{i:04d}" for i in range(1000)]
    assert all(big.set_many((name, 1) for name in names))
    client = redis_client()
    # The layout before the chunks: one sorted set of every name (and a name whose key is gone).
    for bound in client.zrange(big.keys.name_index, 0, -1):
        client.delete(big.keys.name_chunk(bound.decode()))
    client.delete(big.keys.name_index, big.keys.name_chunk_sizes)
    client.zadd(big.keys.legacy_name_index, {**dict.fromkeys(names, 0), "gone": 0})
    assert big.list_keys().items == []  # not visible until upgraded

    call_command("brands", "upgrade-index", "--batch", "300")
    out = capsys.readouterr().out
    assert "1,001 names moved" in out and "Upgraded the name index of 1 brands" in out
    assert client.exists(big.keys.legacy_name_index) == 0
    assert_well_formed(big, set(names))
    assert all_pages(big, limit=100) == names and big.count_prefix("old:") == 1000
    assert big.upgrade_name_index() == 0  # idempotent


def test_the_chunks_take_a_fraction_of_one_sorted_sets_memory(big):
    names = [f"user:{i:06d}:profile" for i in range(3000)]
    big.limits = type(big.limits)(max_keys=5000, max_value_bytes=big.limits.max_value_bytes,
                                  default_ttl=big.limits.default_ttl, max_ttl=big.limits.max_ttl)
    assert all(big.set_many((name, 1) for name in names))
    client = redis_client()
    chunked = sum(client.memory_usage(k, samples=0) for k in (big.keys.name_index,
                                                               big.keys.name_chunk_sizes)) + sum(
        client.memory_usage(big.keys.name_chunk(bound), samples=0) for bound, _ in chunks(big))
    plain = big.keys.legacy_name_index  # under the brand's tag; deleted below
    try:
        client.zadd(plain, dict.fromkeys(names, 0))
        one_set = client.memory_usage(plain, samples=0)
    finally:
        client.delete(plain)
    print(f"\nname index, {len(names)} names of {len(names[0])} bytes: "
          f"{chunked / len(names):.1f} bytes a name chunked, {one_set / len(names):.1f} in one sorted set")
    assert chunked < one_set / 2.5
