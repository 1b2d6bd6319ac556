"""The brute-force recount the exact analysis is compared with: every live key read, one by one,
through the service's key listing (values and expiries), and every figure computed from that."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from brands.cache import ANALYSIS_SIZE_BOUNDS as SIZE_BOUNDS
from brands.cache import ANALYSIS_TTL_BOUNDS as TTL_BOUNDS
from brands.cache import BrandCache


@dataclass
class Recount:
    sizes: dict[str, int]
    expiries: dict[str, int]
    now_ms: int

    @property
    def keys(self) -> int:
        return len(self.sizes)

    @property
    def bytes(self) -> int:
        return sum(self.sizes.values())

    def size_histogram(self) -> list[int]:
        counts = [0] * (len(SIZE_BOUNDS) + 1)
        for size in self.sizes.values():
            counts[next((i for i, bound in enumerate(SIZE_BOUNDS) if size <= bound), len(SIZE_BOUNDS))] += 1
        return counts

    def ttl_histogram(self) -> list[int]:
        counts = [0] * (len(TTL_BOUNDS) + 1)
        for expiry in self.expiries.values():
            left = expiry - self.now_ms
            index = next((i for i, bound in enumerate(TTL_BOUNDS) if left <= bound * 1000), len(TTL_BOUNDS))
            counts[index] += 1
        return counts

    def namespaces(self) -> dict[str, tuple[int, int]]:
        keys: Counter[str] = Counter()
        size: Counter[str] = Counter()
        for name, n in self.sizes.items():
            if ":" in name:
                ns = name[: name.index(":") + 1]
                keys[ns] += 1
                size[ns] += n
        return {ns: (keys[ns], size[ns]) for ns in keys}

    def plain(self) -> tuple[int, int]:
        plain = [n for name, n in self.sizes.items() if ":" not in name]
        return len(plain), sum(plain)

    def prefix(self, prefix: str) -> tuple[int, int]:
        sizes = [n for name, n in self.sizes.items() if name.startswith(prefix)]
        return len(sizes), sum(sizes)


def recount(cache: BrandCache) -> Recount:
    sizes, expiries = {}, {}
    after = None
    while True:
        page = cache.list_keys(after=after, limit=1000)
        for item in page.items:
            sizes[item.key] = item.size_bytes
            expiries[item.key] = item.expires_at_ms
        if page.next_cursor is None:
            break
        after = page.next_cursor
    seconds, micros = cache.client.time()
    return Recount(sizes=sizes, expiries=expiries, now_ms=seconds * 1000 + micros // 1000)


def assert_analysis_matches(cache: BrandCache, *, ttl: bool = True) -> None:
    """Every figure of the analysis equals the recount (``ttl``: also the TTL histogram, for
    data sets whose expiries sit well away from its bounds)."""
    analysis = cache.analysis(top=10)
    counted = recount(cache)
    assert analysis.complete
    assert analysis.live_keys == counted.keys == analysis.accounted_keys
    assert analysis.stored_bytes == counted.bytes
    assert [b.count for b in analysis.size_histogram] == counted.size_histogram()
    if ttl:
        assert [b.count for b in analysis.ttl_histogram] == counted.ttl_histogram()
    assert sum(b.count for b in analysis.ttl_histogram) == counted.keys
    # The ten biggest: exactly the ten largest sizes, each named key really that size (ties may
    # be broken either way).
    top_sizes = sorted(counted.sizes.values(), reverse=True)[:10]
    assert [big.size_bytes for big in analysis.biggest] == top_sizes
    for big in analysis.biggest:
        assert counted.sizes[big.key] == big.size_bytes
    assert len({big.key for big in analysis.biggest}) == len(analysis.biggest)
    namespaces = counted.namespaces()
    assert analysis.namespace_count == len(namespaces)
    for rows, index in ((analysis.namespaces_by_keys, 0), (analysis.namespaces_by_bytes, 1)):
        expected = sorted((figures[index] for figures in namespaces.values()), reverse=True)[:10]
        assert [(row.keys, row.bytes)[index] for row in rows] == expected
        for row in rows:
            assert namespaces[row.prefix] == (row.keys, row.bytes)
    assert (analysis.plain_keys, analysis.plain_bytes) == counted.plain()
    for prefix in {"", *namespaces, *(name[:3] for name in list(counted.sizes)[:20])}:
        figures = cache.prefix_figures(prefix)
        assert (figures.keys, figures.bytes) == counted.prefix(prefix), prefix
