"""Reading the exact analysis the write scripts keep (brands/cache/accounting.py): totals, the
value-size and TTL histograms, the biggest keys and the namespaces in one script call; any
prefix's keys and bytes on demand; and the upgrade of keys written before the accounting.

Nothing here reads a value to measure it, except the upgrade (once per old key) and a prefix's
keys that the upgrade has not reached yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from brands.cache import validation
from brands.cache.accounting import SIZE_BOUNDS

if TYPE_CHECKING:
    from brands.cache.service import BrandCache

TOP = 10
# TTL histogram bounds (seconds from now): "within a minute", 1-5 min, 5-15 min, 15-60 min, later.
TTL_BOUNDS = (60, 300, 900, 3600)
# Rebuild steps of the biggest keys one read may run (each a bounded script of TOPK_BATCH names):
# a rebuild is rare (deletes took the set below ten names); the rest is left to the next read.
TOPK_BATCH = 2000
TOPK_STEPS_PER_READ = 50
PREFIX_BATCH = 2000
UPGRADE_BATCH = 1000


def _size_text(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


def size_bucket_labels() -> list[str]:
    labels, low = [], 1
    for bound in SIZE_BOUNDS:
        labels.append(f"{_size_text(low)} – {_size_text(bound)}" if low > 1 else f"up to {_size_text(bound)}")
        low = bound + 1
    labels.append(f"over {_size_text(SIZE_BOUNDS[-1])}")
    return labels


def _minutes(seconds: int) -> str:
    return "1 hour" if seconds == 3600 else f"{seconds // 60} min"


def ttl_bucket_labels() -> list[str]:
    labels = [f"within {_minutes(TTL_BOUNDS[0])}"]
    for low, high in zip(TTL_BOUNDS, TTL_BOUNDS[1:], strict=False):
        labels.append(f"{_minutes(low)} – {_minutes(high)}")
    labels.append(f"after {_minutes(TTL_BOUNDS[-1])}")
    return labels


@dataclass(frozen=True)
class Bucket:
    label: str
    count: int
    upper_bytes: int | None = None  # size buckets: the largest size in it (None: unbounded)


@dataclass(frozen=True)
class BigKey:
    key: str
    size_bytes: int


@dataclass(frozen=True)
class NamespaceFigures:
    prefix: str
    keys: int
    bytes: int


@dataclass(frozen=True)
class PrefixFigures:
    prefix: str
    keys: int
    bytes: int


@dataclass(frozen=True)
class BrandAnalysis:
    live_keys: int
    indexed_keys: int  # entries of the expiry index (live, plus expired ones not pruned yet)
    accounted_keys: int  # entries the accounting knows (all of them, once upgraded)
    stored_bytes: int
    size_histogram: list[Bucket]
    ttl_histogram: list[Bucket]
    biggest: list[BigKey]
    namespaces_by_keys: list[NamespaceFigures]
    namespaces_by_bytes: list[NamespaceFigures]
    namespace_count: int
    plain_keys: int  # keys without ':' (in no namespace)
    plain_bytes: int
    rebuilding_biggest: bool = False

    @property
    def complete(self) -> bool:
        """Every indexed key is accounted (False for data written before the accounting until
        ``manage.py cache_analysis upgrade`` has run)."""
        return self.accounted_keys >= self.indexed_keys

    @property
    def unaccounted_keys(self) -> int:
        return max(self.indexed_keys - self.accounted_keys, 0)


def _int(raw) -> int:
    return int(float(raw)) if raw is not None else 0


def _namespaces(rows) -> list[NamespaceFigures]:
    return [NamespaceFigures(prefix=ns.decode(), keys=_int(keys), bytes=_int(size))
            for ns, keys, size in rows]


def read(cache: BrandCache, *, top: int = TOP) -> BrandAnalysis:
    """The brand's analysis now. Expired index entries are pruned first (so every figure is about
    live keys); a pending rebuild of the biggest keys gets up to TOPK_STEPS_PER_READ steps."""
    cache.prune_expired()
    args = [top, *(seconds * 1000 for seconds in TTL_BOUNDS)]
    reply = cache._run_admin("ANALYSIS_READ", args)
    totals = dict(zip(reply[0][::2], reply[0][1::2], strict=True))
    if b"tr_cursor" in totals:
        for _ in range(TOPK_STEPS_PER_READ):
            if cache._run_admin("TOPK_STEP", [TOPK_BATCH]) == 1:
                break
        reply = cache._run_admin("ANALYSIS_READ", args)
        totals = dict(zip(reply[0][::2], reply[0][1::2], strict=True))
    _hash, indexed, live, ttl, biggest, by_keys, by_bytes, ns_count = reply
    labels = size_bucket_labels()
    sizes = [Bucket(label, _int(totals.get(f"h{i + 1}".encode())),
                    SIZE_BOUNDS[i] if i < len(SIZE_BOUNDS) else None)
             for i, label in enumerate(labels)]
    return BrandAnalysis(
        live_keys=int(live),
        indexed_keys=int(indexed),
        accounted_keys=_int(totals.get(b"keys")),
        stored_bytes=_int(totals.get(b"bytes")),
        size_histogram=sizes,
        ttl_histogram=[Bucket(label, int(n)) for label, n in zip(ttl_bucket_labels(), ttl, strict=True)],
        biggest=[BigKey(biggest[i].decode(), _int(biggest[i + 1])) for i in range(0, len(biggest), 2)],
        namespaces_by_keys=_namespaces(by_keys),
        namespaces_by_bytes=_namespaces(by_bytes),
        namespace_count=int(ns_count),
        plain_keys=_int(totals.get(b"plain_keys")),
        plain_bytes=_int(totals.get(b"plain_bytes")),
        rebuilding_biggest=b"tr_cursor" in totals,
    )


def prefix_figures(cache: BrandCache, prefix: str) -> PrefixFigures:
    """Live keys and their bytes under ``prefix`` (any key text; "" is the whole brand), exact,
    counted in bounded batches of PREFIX_BATCH names per script. Raises CacheKeyError for a
    prefix no key could start with."""
    if not isinstance(prefix, str) or (prefix and not validation.is_valid_key(prefix)):
        raise validation.CacheKeyError(
            f"Invalid prefix {validation.describe(prefix)}: a prefix is the start of a key name, "
            f"up to {validation.KEY_MAX_LENGTH} characters, each a letter, digit, '_', '.', ':' or '-'"
        )
    start = b"[" + prefix.encode()
    stop = b"(" + prefix.encode() + b"\xff" if prefix else b"+"
    keys = size = 0
    while True:
        last, batch_keys, batch_bytes = cache._run_admin(
            "PREFIX_FIGURES", [cache.keys.value_prefix, start, stop, PREFIX_BATCH])
        keys += int(batch_keys)
        size += int(batch_bytes)
        if not last:
            return PrefixFigures(prefix=prefix, keys=keys, bytes=size)
        start = b"(" + last


def upgrade(cache: BrandCache, *, batch: int = UPGRADE_BATCH) -> int:
    """Account the keys written before the accounting existed, ``batch`` names per script (each
    batch atomic; writes in between are safe: a key they touch is accounted by the write itself,
    and the upgrade skips it). Returns how many keys it accounted."""
    start, done = b"-", 0
    while True:
        last, upgraded = cache._run_admin("ANALYSIS_UPGRADE", [cache.keys.value_prefix, start, int(batch)])
        done += int(upgraded)
        if not last:
            return done
        start = b"(" + last
