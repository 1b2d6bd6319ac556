"""BrandCache: the brand-scoped cache of docs/contract.md, for one brand.

The six contract operations validate their arguments in Python (raising TypeError subclasses
before anything is read or written), then make exactly one Redis round trip: a plain GET / EXISTS
for reads, one Lua script for each write. Refusals (value too large, key limit) return False /
None with a warning in ``self.warnings``; an unreachable Redis does the same with the warning
"cache unavailable", unless the caller asked for CacheUnavailable to be raised.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import wraps
from typing import Any

from redis.exceptions import ResponseError

from brands.cache import analysis as analysis_reader
from brands.cache import bulk, opcounts, validation
from brands.cache.connection import UNAVAILABLE_ERRORS, redis_client
from brands.cache.errors import CacheUnavailable, NotANumberError
from brands.cache.layout import BrandKeys
from brands.cache.scripts import PRUNE_BATCH, SCRIPTS, VERSION_CHANGED, VERSION_GONE
from brands.cache.types import (
    BulkReport,
    ImportReport,
    KeyInfo,
    KeyPage,
    NamespaceNode,
    Refusal,
    TreeLevel,
    WriteResult,
)

UNAVAILABLE_WARNING = "cache unavailable"
_LEX_TOP = b"\xff"  # sorts after every valid key character

# Bulk operations work through the names in batches; each batch is one script, each key in it
# atomic. A batch names its keys in KEYS (values included), so they stay in the brand's slot.
BULK_BATCH = 250
SAMPLE_SIZE = 10
# Natural sort reads every live name under the prefix, so it is offered up to this many keys.
NATURAL_SORT_MAX = 10_000
_DIGITS = re.compile(r"(\d+)")
_REFUSAL_CODES = {
    -1: Refusal.KEY_LIMIT,
    -2: Refusal.TOO_LARGE,
    VERSION_CHANGED: Refusal.CHANGED,
    VERSION_GONE: Refusal.GONE,
    -5: Refusal.EXISTS,
    -6: Refusal.EXPIRED,
}


@dataclass(frozen=True)
class CacheLimits:
    max_keys: int
    max_value_bytes: int
    default_ttl: int
    max_ttl: int

    @classmethod
    def from_quota(cls, quota) -> CacheLimits:
        return cls(
            max_keys=quota.max_keys,
            max_value_bytes=quota.max_value_bytes,
            default_ttl=quota.default_ttl,
            max_ttl=quota.max_ttl,
        )


def _key_infos(flat: list) -> list[KeyInfo]:
    """KeyInfo rows from a flat script reply: name, value, pttl, expiry score, ..."""
    return [
        KeyInfo(key=flat[i].decode(), value_json=flat[i + 1].decode("utf-8"),
                ttl_seconds=max(int(flat[i + 2]), 0) / 1000, expires_at_ms=int(float(flat[i + 3])))
        for i in range(0, len(flat), 4)
    ]


def _natural_key(name: str) -> list:
    """Sort key that orders digit runs by their number: user:2 before user:10."""
    parts = []
    for chunk in _DIGITS.split(name):
        parts.append((0, int(chunk), len(chunk)) if chunk.isdigit() else (1, chunk, 0))
    return parts


def _lex_range(prefix: str, after: str | None) -> tuple[bytes, bytes]:
    """ZRANGEBYLEX bounds for names starting with ``prefix``, strictly after ``after``."""
    start = b"(" + after.encode() if after else b"[" + prefix.encode()
    stop = b"(" + prefix.encode() + _LEX_TOP if prefix else b"+"
    return start, stop


def soft_failure(result: Any) -> Callable:
    """The contract's answer to an unreachable Redis for the six script-facing operations
    (docs/contract.md#cache-unavailable), applied in one place: ``result`` (None / False) and
    the warning "cache unavailable", or CacheUnavailable when the caller asked for it (the
    dashboard). Like django-redis's ``omit_exception``, but the outage is reported, not hidden."""

    def decorator(method: Callable) -> Callable:
        @wraps(method)
        def wrapper(self: BrandCache, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except UNAVAILABLE_ERRORS as exc:
                if self.raise_unavailable:
                    raise CacheUnavailable() from exc
                self.warnings.append(UNAVAILABLE_WARNING)
                return result

        return wrapper

    return decorator


def raises_unavailable(method: Callable) -> Callable:
    """Admin operations (listing, counting, bulk changes) have no soft answer: an unreachable
    Redis is always CacheUnavailable (the dashboard's 503)."""

    @wraps(method)
    def wrapper(self: BrandCache, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except UNAVAILABLE_ERRORS as exc:
            raise CacheUnavailable() from exc

    return wrapper


class BrandCache:
    """The cache of one brand. ``BrandCache.for_brand(brand)`` in the dashboard and commands;
    ``BrandCache(brand_id, limits)`` where there is no database (script workers, benchmarks)."""

    def __init__(self, brand_id: int, limits: CacheLimits, *, raise_unavailable: bool = False,
                 source: str = "dashboard") -> None:
        self.brand_id = int(brand_id)
        self.limits = limits
        self.raise_unavailable = raise_unavailable
        self.keys = BrandKeys.for_brand(self.brand_id)
        # Operations are counted per source ("script" or "dashboard"), in Python, from each
        # call's own result; brands.cache.opcounts flushes them (no round trip per call).
        self.source = source
        self._op_fields = opcounts.FIELDS[source]
        self.ops_base = self.keys.ops_base
        self.warnings: list[str] = []
        # Called with a key's name after each contract operation that changed it (set,
        # setIfAbsent that wrote, increment, del): script runs record the keys they wrote.
        self.on_write: Callable[[str], None] | None = None
        self._client = None

    @classmethod
    def for_brand(cls, brand, **kwargs) -> BrandCache:
        """For a Brand row; its quota (``brand.quota``) gives the limits."""
        return cls(brand.pk, CacheLimits.from_quota(brand.quota), **kwargs)

    @property
    def client(self):
        if self._client is None:
            self._client = redis_client()
        return self._client

    # ------------------------------------------------------------------ helpers

    def count_op(self, kind: str, *, read: str | None = None, wrote: str | None = None) -> None:
        """Count one call of this brand (opcounts.KINDS); ``read``/``wrote``: its key (hot keys)."""
        opcounts.record(self, self._op_fields[kind], read=read, wrote=wrote)

    def _key(self, key: Any) -> str:
        """``validation.validate_key``, counting a refused key (no Redis involved)."""
        try:
            return validation.validate_key(key)
        except validation.CacheKeyError:
            self.count_op("refused_invalid_key")
            raise

    def _run(self, name: str, key: str, args: list) -> Any:
        return SCRIPTS.run(name, self.client, [self.keys.value(key), *self.keys.index_keys], args)

    def _run_admin(self, name: str, args: list) -> Any:
        # Admin scripts touch only the indexes (and values under the brand's own value prefix).
        return SCRIPTS.run(name, self.client, self.keys.script_keys(), args)

    def _ttl_ms(self, key: str, ttl: Any) -> int:
        seconds, clamped = validation.ttl_seconds(
            ttl, default_ttl=self.limits.default_ttl, max_ttl=self.limits.max_ttl
        )
        if clamped:
            self.warnings.append(
                f"TTL of {ttl} s for key {validation.describe(key)} is above the maximum of "
                f"{self.limits.max_ttl} s; clamped to {self.limits.max_ttl} s"
            )
        return seconds * 1000

    def _refuse_size(self, key: str, size: int) -> None:
        self.warnings.append(
            f"value for key {validation.describe(key)} is {size} bytes, above the limit of "
            f"{self.limits.max_value_bytes} bytes; not written"
        )
        self.count_op("refused_value_size")
        # If Redis is down the refusal still stands; only the monitoring counter is lost.
        with contextlib.suppress(*UNAVAILABLE_ERRORS):
            self._run("COUNT_REFUSAL", key, ["value_size"])

    def _refuse_limit(self, key: str) -> None:
        self.count_op("refused_key_limit")
        self.warnings.append(
            f"key limit of {self.limits.max_keys} keys reached; key {validation.describe(key)} "
            "was not created"
        )

    # ------------------------------------------------------------------ contract operations
    # Arguments are validated before the decorated body can reach Redis, so bad input raises a
    # TypeError whether or not Redis is up.

    def get_json(self, key: str) -> str | None:
        return self._get_json(self._key(key))

    @soft_failure(None)
    def _get_json(self, key: str) -> str | None:
        raw = self.client.get(self.keys.value(key))
        self.count_op("read_miss" if raw is None else "read_hit", read=key)
        return None if raw is None else raw.decode("utf-8")

    def get(self, key: str) -> Any:
        text = self.get_json(key)
        return None if text is None else json.loads(text)

    def has(self, key: str) -> bool:
        return self._has(self._key(key))

    @soft_failure(False)
    def _has(self, key: str) -> bool:
        found = self.client.exists(self.keys.value(key)) == 1
        self.count_op("read_hit" if found else "read_miss", read=key)
        return found

    def delete(self, key: str) -> bool:
        return self._delete(self._key(key))

    @soft_failure(False)
    def _delete(self, key: str) -> bool:
        self._run("DELETE", key, [key])
        self.count_op("delete", wrote=key)
        if self.on_write is not None:
            self.on_write(key)
        return True

    def _write(self, key: str, text: str, ttl: Any, *, only_if_absent: bool) -> bool:
        ttl_ms = self._ttl_ms(key, ttl)
        size = validation.utf8_size(text)
        if size > self.limits.max_value_bytes:
            self._refuse_size(key, size)
            return False
        return self._write_checked(key, text, ttl_ms, only_if_absent)

    @soft_failure(False)
    def _write_checked(self, key: str, text: str, ttl_ms: int, only_if_absent: bool) -> bool:
        outcome = self._run(
            "SET", key,
            [key, text, ttl_ms, self.limits.max_keys, "1" if only_if_absent else "0", PRUNE_BATCH],
        )
        if outcome == -1:
            self._refuse_limit(key)
        elif outcome == 1:
            self.count_op("write", wrote=key)
        else:
            self.count_op("exists")
        if outcome == 1 and self.on_write is not None:
            self.on_write(key)
        return outcome == 1

    def _write_json(self, key: str, text: str, ttl: Any, *, only_if_absent: bool) -> bool:
        """A write of JSON text serialised by the caller. A text over the size limit is refused
        for its size before it is parsed: a value made of repeated references parses into many
        times its text's size, and it would be refused anyway."""
        key = self._key(key)
        if isinstance(text, str) and validation.utf8_size(text) > self.limits.max_value_bytes:
            # _write checks the TTL (a bad one still throws first), then refuses the size.
            return self._write(key, text, ttl, only_if_absent=only_if_absent)
        return self._write(key, validation.check_json_text(text), ttl, only_if_absent=only_if_absent)

    def set_json(self, key: str, text: str, ttl: Any = None) -> bool:
        return self._write_json(key, text, ttl, only_if_absent=False)

    def set(self, key: str, value: Any, ttl: Any = None) -> bool:
        key = self._key(key)
        return self._write(key, validation.to_json(value), ttl, only_if_absent=False)

    def set_if_absent_json(self, key: str, text: str, ttl: Any = None) -> bool:
        return self._write_json(key, text, ttl, only_if_absent=True)

    def set_if_absent(self, key: str, value: Any, ttl: Any = None) -> bool:
        key = self._key(key)
        return self._write(key, validation.to_json(value), ttl, only_if_absent=True)

    def increment_json(self, key: str, amount: Any = 1, ttl: Any = None) -> str | None:
        key = self._key(key)
        delta = validation.increment_amount(amount)
        ttl_ms = "" if ttl is None else self._ttl_ms(key, ttl)
        return self._increment(key, delta, ttl_ms)

    @soft_failure(None)
    def _increment(self, key: str, delta: float, ttl_ms: int | str) -> str | None:
        try:
            outcome = self._run(
                "INCREMENT", key,
                [key, repr(delta), ttl_ms, self.limits.default_ttl * 1000, self.limits.max_keys,
                 self.limits.max_value_bytes, PRUNE_BATCH],
            )
        except UNAVAILABLE_ERRORS:
            # Before ResponseError: CLUSTERDOWN and TRYAGAIN are both. The decorator answers.
            raise
        except ResponseError as exc:
            refusal = _increment_refusal(exc, key)
            if refusal is None:
                raise
            raise refusal from None
        if outcome[0] == -1:
            self._refuse_limit(key)
            return None
        if outcome[0] == -2:
            self.count_op("refused_value_size")
            self.warnings.append(
                f"value for key {validation.describe(key)} is {outcome[1]} bytes, above the limit of "
                f"{self.limits.max_value_bytes} bytes; not written"
            )
            return None
        self.count_op("increment", wrote=key)
        if self.on_write is not None:
            self.on_write(key)
        return outcome[1].decode("ascii")

    def increment(self, key: str, amount: Any = 1, ttl: Any = None) -> int | float | None:
        text = self.increment_json(key, amount, ttl)
        return None if text is None else json.loads(text)

    @raises_unavailable
    def set_many(self, items: Iterable[tuple[str, Any]], ttl: Any = None) -> list[bool]:
        """``set`` for many keys in one pipelined round trip, each write still its own atomic
        script (so the key limit stays exact). Keys and values are validated first, all of them,
        before anything is sent. Returns, per item, whether it was written; refusals add their
        warnings as ``set`` does."""
        writes = []
        for key, value in items:
            key = validation.validate_key(key)
            writes.append((key, validation.to_json(value), self._ttl_ms(key, ttl)))
        results: list[bool] = [False] * len(writes)
        pending = []
        for index, (key, text, _ttl_ms) in enumerate(writes):
            size = validation.utf8_size(text)
            if size > self.limits.max_value_bytes:
                self._refuse_size(key, size)
            else:
                pending.append(index)
        replies = SCRIPTS.run_many(self.client, "SET", [
            ([self.keys.value(key), *self.keys.index_keys],
             [key, text, ttl_ms, self.limits.max_keys, "0", PRUNE_BATCH])
            for key, text, ttl_ms in (writes[i] for i in pending)
        ])
        for index, outcome in zip(pending, replies, strict=True):
            if outcome == -1:
                self._refuse_limit(writes[index][0])
            elif outcome == 1:
                self.count_op("write", wrote=writes[index][0])
            results[index] = outcome == 1
            if outcome == 1 and self.on_write is not None:
                self.on_write(writes[index][0])
        return results

    # ------------------------------------------------------------------ admin operations

    @raises_unavailable
    def prune_expired(self) -> int:
        """Drop every expired entry from the indexes (admin reads want exact name indexes)."""
        removed = 0
        while True:
            batch = self._run_admin("PRUNE", [PRUNE_BATCH])
            removed += batch
            if batch < PRUNE_BATCH:
                return removed

    @raises_unavailable
    def live_count(self) -> int:
        return int(self._run_admin("LIVE_COUNT", []))

    @raises_unavailable
    def refused_writes(self) -> dict[str, int]:
        raw = self.client.hgetall(self.keys.stats)
        counts = {"key_limit": int(raw.get(b"key_limit", 0)), "value_size": int(raw.get(b"value_size", 0))}
        counts["total"] = counts["key_limit"] + counts["value_size"]
        return counts

    @raises_unavailable
    def stored_bytes(self) -> int:
        """UTF-8 bytes of every live value's JSON text: the figure the write scripts keep, or,
        while keys written before the accounting remain, the sum read value by value."""
        figures = self.analysis(top=1)
        return figures.stored_bytes if figures.complete else self.stored_bytes_scanned()

    @raises_unavailable
    def stored_bytes_scanned(self, batch: int = 2000) -> int:
        """Stored bytes by reading every value's length (the way before issue 12: ~100 ms at
        50,000 keys; cache_bench compares the two)."""
        total, start = 0, b"-"
        while True:
            chunk, last = self._run_admin("STORED_BYTES", [self.keys.value_prefix, start, batch])
            total += int(chunk)
            if not last:
                return total
            start = b"(" + last

    @raises_unavailable
    def list_keys(self, *, prefix: str = "", after: str | None = None, limit: int = 50) -> KeyPage:
        if prefix and not validation.is_valid_key(prefix):
            return KeyPage(items=[], next_cursor=None)  # no key can start with it
        if after is not None and not validation.is_valid_key(after):
            after = None  # a forged cursor restarts from the top rather than failing
        if after is not None and after < prefix:
            after = None
        limit = max(1, min(int(limit), 1000))
        start, stop = _lex_range(prefix, after)
        flat = self._run_admin("PAGE", [self.keys.value_prefix, start, stop, limit])
        items = _key_infos(flat)
        next_cursor = items[limit - 1].key if len(items) > limit else None
        return KeyPage(items=items[:limit], next_cursor=next_cursor)

    @raises_unavailable
    def key_info(self, key: str) -> KeyInfo | None:
        """The key with its version (value, TTL and expiry read in one atomic script)."""
        key = validation.validate_key(key)
        reply = SCRIPTS.run("READ_KEY", self.client, [self.keys.value(key), self.keys.expiry_index], [key])
        if reply is None:
            self.count_op("read_miss", read=key)
            return None
        value, expiry, pttl = reply
        self.count_op("read_hit", read=key)
        return KeyInfo(key=key, value_json=value.decode("utf-8"), ttl_seconds=max(int(pttl), 0) / 1000,
                       expires_at_ms=int(float(expiry)))

    @raises_unavailable
    def namespace_tree(self, prefix: str = "", *, limit: int = 200) -> list[NamespaceNode]:
        if prefix and not (prefix.endswith(":") and validation.is_valid_key(prefix)):
            raise validation.CacheKeyError(
                f"Invalid namespace {validation.describe(prefix)}: "
                "it must be a valid key prefix ending with ':'"
            )
        self.prune_expired()
        flat = self._run_admin("TREE", [prefix, max(1, int(limit))])
        nodes = []
        for i in range(0, len(flat), 3):
            full = flat[i].decode()
            is_leaf = int(flat[i + 2]) == 1
            label = full[len(prefix):]
            nodes.append(NamespaceNode(prefix=full, label=label, key_count=int(flat[i + 1]), is_leaf=is_leaf))
        return nodes

    @raises_unavailable
    def count_prefix(self, prefix: str) -> int:
        if prefix and not validation.is_valid_key(prefix):
            return 0
        self.prune_expired()
        start, stop = _lex_range(prefix, None)
        return int(self._run_admin("COUNT_NAMES", [start, stop]))

    @raises_unavailable
    def delete_prefix(self, prefix: str, *, batch: int = 500) -> int:
        if prefix and not validation.is_valid_key(prefix):
            return 0
        start, stop = _lex_range(prefix, None)
        deleted = 0
        while True:
            removed, live = self._run_admin("DELETE_PREFIX", [self.keys.value_prefix, start, stop, batch])
            deleted += int(live)
            if int(removed) < batch:
                return deleted

    @raises_unavailable
    def upgrade_name_index(self, *, batch: int = 500) -> int:
        """Move the brand's names from the name index as it was before the chunks (one sorted
        set) into the chunked one, ``batch`` names per script so that Redis never stalls.
        Returns how many names were taken from the old index (0 when there is none)."""
        keys = [self.keys.legacy_name_index, self.keys.expiry_index, self.keys.name_index, self.keys.stats]
        moved = 0
        while True:
            taken, left = SCRIPTS.run("UPGRADE_NAMES", self.client, keys, [max(1, int(batch))])
            moved += int(taken)
            if int(left) == 0:
                return moved

    @raises_unavailable
    def delete_all(self) -> int:
        self.upgrade_name_index()  # names still in the old index are deleted too
        deleted = self.delete_prefix("")
        # What bulk deletes kept for their undo window goes too.
        bins = [self.keys.bin(token.decode()) for token in self.client.zrange(self.keys.bin_index, 0, -1)]
        self.client.delete(*self.keys.index_keys, *self.keys.run_keys, self.keys.bin_index, *bins,
                           *self.keys.analysis_keys)
        opcounts.delete_ops(self.keys)
        return deleted

    # -- exact analysis (brands/cache/accounting.py, brands/cache/analysis.py)

    @raises_unavailable
    def analysis(self, *, top: int = analysis_reader.TOP) -> analysis_reader.BrandAnalysis:
        """Stored bytes, size and TTL histograms, the biggest keys and the namespaces, as the
        write scripts keep them: one script call after pruning, whatever the brand holds."""
        return analysis_reader.read(self, top=top)

    @raises_unavailable
    def prefix_figures(self, prefix: str) -> analysis_reader.PrefixFigures:
        """Live keys and bytes under any prefix, exact (bounded batches). CacheKeyError for a
        prefix no key could start with."""
        return analysis_reader.prefix_figures(self, prefix)

    @raises_unavailable
    def analysis_upgrade(self, *, batch: int = analysis_reader.UPGRADE_BATCH) -> int:
        """Account keys written before the accounting existed (``manage.py cache_analysis``)."""
        return analysis_reader.upgrade(self, batch=batch)

    def export_lines(self, *, batch: int = 1000) -> Iterator[str]:
        """Every live key as a JSON line {"key", "value", "ttl"}, in key order (brands.cache.bulk)."""
        return bulk.export_lines(self, batch=batch)

    def import_lines(self, source: Any, *, policy: str = bulk.OVERWRITE, dry_run: bool = False,
                     listed: int = bulk.REFUSALS_LISTED) -> ImportReport:
        """Import JSON lines {"key", "value", "ttl"?} from a file object (streamed) or an
        iterable of lines, each through the rules of ``set``; see brands.cache.bulk. Raises
        ImportInterrupted (a CacheUnavailable carrying the report so far) when Redis stops
        answering midway."""
        return bulk.import_lines(self, source, policy=policy, dry_run=dry_run, listed=listed)

    def _set_call(self, key: str, text: str, ttl_ms: int, only_if_absent: str) -> tuple[list, list]:
        """KEYS and ARGV of the SET script for one checked write (for pipelined batches, which
        must stay in step with ``_write_checked`` and ``set_many``)."""
        return (self.keys.script_keys(key),
                [key, text, ttl_ms, self.limits.max_keys, only_if_absent, PRUNE_BATCH])

    # ------------------------------------------------------------------ safe editing (dashboard)
    # Versioned writes, restores, bulk operations with dry runs (docs/contract.md#dashboard-use).
    # They always raise CacheUnavailable when Redis is unreachable, like every admin operation.

    def _refusal(self, code: int) -> Refusal:
        return _REFUSAL_CODES[int(code)]

    @raises_unavailable
    def set_versioned(self, key: str, value: Any, *, version: str, ttl: Any = None) -> WriteResult:
        """Overwrite ``key`` only if it still has ``version`` (KeyInfo.version). ``ttl`` None
        keeps the key's expiry; otherwise it is validated (and clamped) as for ``set``."""
        key = validation.validate_key(key)
        text = validation.to_json(value)
        ttl_ms: int | str = "" if ttl is None else self._ttl_ms(key, ttl)
        size = validation.utf8_size(text)
        if size > self.limits.max_value_bytes:
            self._refuse_size(key, size)
            return WriteResult(Refusal.TOO_LARGE)
        outcome = self._run("SET", key, [key, text, ttl_ms, self.limits.max_keys, "0", PRUNE_BATCH,
                                         str(version)])
        if isinstance(outcome, list):
            self.count_op("write", wrote=key)
            return WriteResult(expires_at_ms=int(outcome[1]), value_json=text)
        return WriteResult(self._refusal(outcome))

    @raises_unavailable
    def delete_versioned(self, key: str, *, version: str) -> WriteResult:
        key = validation.validate_key(key)
        outcome = self._run("DELETE", key, [key, str(version)])
        if outcome == 1:
            self.count_op("delete", wrote=key)
            return WriteResult()
        return WriteResult(self._refusal(outcome))

    @raises_unavailable
    def increment_versioned(self, key: str, amount: Any = 1, *, version: str, ttl: Any = None) -> WriteResult:
        """``increment`` that only happens if the key still has ``version``. Raises
        NotANumberError / CacheValueError as ``increment`` does."""
        key = validation.validate_key(key)
        delta = validation.increment_amount(amount)
        ttl_ms = "" if ttl is None else self._ttl_ms(key, ttl)
        try:
            outcome = self._run(
                "INCREMENT", key,
                [key, repr(delta), ttl_ms, self.limits.default_ttl * 1000, self.limits.max_keys,
                 self.limits.max_value_bytes, PRUNE_BATCH, str(version)],
            )
        except UNAVAILABLE_ERRORS:
            raise  # before ResponseError: CLUSTERDOWN and TRYAGAIN are both
        except ResponseError as exc:
            refusal = _increment_refusal(exc, key)
            if refusal is None:
                raise
            raise refusal from None
        if outcome[0] == 1:
            self.count_op("increment", wrote=key)
            return WriteResult(expires_at_ms=int(float(outcome[2])), value_json=outcome[1].decode("ascii"))
        if outcome[0] == -2:
            self.count_op("refused_value_size")
            self.warnings.append(
                f"value for key {validation.describe(key)} is {outcome[1]} bytes, above the limit of "
                f"{self.limits.max_value_bytes} bytes; not written"
            )
            return WriteResult(Refusal.TOO_LARGE)
        return WriteResult(self._refusal(outcome[0]))

    @raises_unavailable
    def restore_key(self, key: str, value_json: str, expires_at_ms: int, *,
                    expect_version: str | None = None) -> WriteResult:
        """Put ``key`` back with ``value_json`` and its old expiry (absolute, Redis clock).
        ``expect_version`` None: only if the key is absent now; else only if it still has that
        version. Refused past the expiry, or when a new key would break the key limit."""
        key = validation.validate_key(key)
        text = validation.check_json_text(value_json)
        size = validation.utf8_size(text)
        if size > self.limits.max_value_bytes:
            self._refuse_size(key, size)
            return WriteResult(Refusal.TOO_LARGE)
        outcome = SCRIPTS.run(
            "RESTORE", self.client, [self.keys.value(key), *self.keys.index_keys],
            [key, text, int(expires_at_ms), expect_version or "", self.limits.max_keys, PRUNE_BATCH,
             self.limits.max_ttl * 1000],
        )
        if isinstance(outcome, list):
            return WriteResult(expires_at_ms=int(outcome[1]), value_json=text)
        return WriteResult(self._refusal(outcome))

    # -- reading names and values without writing anything (dry runs, natural sort)

    def _live_names(self, prefix: str, *, limit: int | None = None) -> list[str]:
        """Live names starting with ``prefix``, in name order. Reads only: expired index
        entries are skipped, not pruned, so a dry run leaves Redis exactly as it was."""
        if prefix and not validation.is_valid_key(prefix):
            return []
        start, stop = _lex_range(prefix, None)
        names: list[str] = []
        batch = 2000
        while limit is None or len(names) < limit:
            last, live = SCRIPTS.run("LIVE_NAMES", self.client,
                                     [self.keys.expiry_index, self.keys.name_index], [start, stop, batch])
            names.extend(name.decode() for name in live)
            if not last:
                break
            start = b"(" + last
        return names if limit is None else names[:limit]

    def _read_many(self, names: list[str]) -> list[KeyInfo]:
        infos: list[KeyInfo] = []
        for i in range(0, len(names), BULK_BATCH):
            chunk = names[i:i + BULK_BATCH]
            flat = SCRIPTS.run("READ_MANY", self.client,
                               [self.keys.expiry_index, *(self.keys.value(n) for n in chunk)], chunk)
            infos.extend(_key_infos(flat))
        return infos

    def _per_name(self, command: str, names: list[str]) -> dict[str, int]:
        """``command`` (EXISTS, STRLEN) for each name's value key, pipelined; reads only."""
        answers: dict[str, int] = {}
        for i in range(0, len(names), 1000):
            chunk = names[i:i + 1000]
            pipe = self.client.pipeline(transaction=False)
            for name in chunk:
                pipe.execute_command(command, self.keys.value(name))
            answers.update(zip(chunk, (int(n) for n in pipe.execute()), strict=True))
        return answers

    @raises_unavailable
    def list_keys_natural(self, *, prefix: str = "", offset: int = 0, limit: int = 50) -> tuple[KeyPage, int]:
        """A page of keys in natural order (digit runs by number), and how many match. Reads
        every live name under the prefix: callers offer it up to NATURAL_SORT_MAX keys."""
        names = sorted(self._live_names(prefix, limit=NATURAL_SORT_MAX + 1), key=_natural_key)
        offset = max(0, int(offset))
        limit = max(1, min(int(limit), 1000))
        window = names[offset:offset + limit]
        by_name = {info.key: info for info in self._read_many(window)}
        items = [by_name[name] for name in window if name in by_name]
        more = offset + limit < len(names)
        return KeyPage(items=items, next_cursor=str(offset + limit) if more else None), len(names)

    @raises_unavailable
    def tree_level(self, prefix: str = "", *, max_namespaces: int = 200, max_leaves: int = 25,
                   max_steps: int = 2000) -> TreeLevel:
        """One level of the key browser's tree. A fan-out of more than ``max_leaves`` plain keys
        is only counted ("200 keys"), not listed. A key named exactly like the namespace
        (``customer:`` inside ``customer:``) is a leaf labelled with its whole name."""
        if prefix and not (prefix.endswith(":") and validation.is_valid_key(prefix)):
            raise validation.CacheKeyError(
                f"Invalid namespace {validation.describe(prefix)}: "
                "it must be a valid key prefix ending with ':'"
            )
        self.prune_expired()
        truncated, leaf_count, flat, leaf_names = SCRIPTS.run(
            "TREE_GROUPED", self.client, [self.keys.name_index],
            [prefix, max_namespaces, max_leaves, max_steps],
        )
        namespaces = []
        for i in range(0, len(flat), 2):
            full = flat[i].decode()
            namespaces.append(NamespaceNode(prefix=full, label=full[len(prefix):],
                                            key_count=int(flat[i + 1]), is_leaf=False))
        leaves = []
        for raw in leaf_names:
            name = raw.decode()
            leaves.append(NamespaceNode(prefix=name, label=name[len(prefix):] or name, key_count=1,
                                        is_leaf=True))
        return TreeLevel(prefix=prefix, namespaces=namespaces, leaves=leaves, leaf_count=int(leaf_count),
                         truncated=bool(truncated))

    # -- bulk operations: each has a dry run that only reads

    def _report(self, operation: str, prefix: str, dry_run: bool, matched: int, **fields) -> BulkReport:
        return BulkReport(operation=operation, prefix=prefix, dry_run=dry_run, matched=matched, **fields)

    @raises_unavailable
    def bulk_delete(self, prefix: str, *, dry_run: bool, keep_seconds: int = 0) -> BulkReport:
        """Delete every live key under ``prefix``. With ``keep_seconds`` the deleted keys are
        kept (outside the indexes) for that long, so ``bulk_restore`` can put them back."""
        names = self._live_names(prefix)
        sample = [(name, "deleted") for name in names[:SAMPLE_SIZE]]
        if dry_run:
            return self._report("delete", prefix, True, len(names), changed=len(names), sample=sample)
        if keep_seconds <= 0:
            deleted = self.delete_prefix(prefix)
            return self._report("delete", prefix, False, len(names), changed=deleted, sample=sample)
        token = secrets.token_hex(8)
        deleted = 0
        for i in range(0, len(names), BULK_BATCH):
            chunk = names[i:i + BULK_BATCH]
            deleted += int(SCRIPTS.run(
                "BIN_DELETE", self.client,
                [self.keys.expiry_index, self.keys.name_index, self.keys.bin(token), self.keys.bin_index,
                 *(self.keys.value(n) for n in chunk)],
                [token, int(keep_seconds) * 1000, *chunk],
            ))
        if not deleted:
            return self._report("delete", prefix, False, len(names), changed=0, sample=sample)
        until = self.client.zscore(self.keys.bin_index, token)
        return self._report("delete", prefix, False, len(names), changed=deleted, sample=sample,
                            undo_token=token, undo_until_ms=int(until) if until else None)

    @raises_unavailable
    def kept_count(self, token: str) -> int:
        """How many keys a bulk delete still keeps for its undo (0 once the window is over)."""
        if not token or not token.isalnum():
            return 0
        return int(self.client.hlen(self.keys.bin(token)))

    @raises_unavailable
    def bulk_restore(self, token: str) -> BulkReport:
        """Put back what bulk delete ``token`` kept: each key only if it is absent, would not have
        expired by now, and fits the key limit. Restored keys leave the bin; refused ones stay
        until the window ends (free some room and try again)."""
        restored, matched = 0, 0
        refused: dict[Refusal, int] = {}
        refused_sample: list[tuple[str, str]] = []
        sample: list[tuple[str, str]] = []
        if not token or not token.isalnum():
            return self._report("restore", "", False, 0)
        bin_key = self.keys.bin(token)
        cursor = 0
        while True:
            cursor, fields = self.client.hscan(bin_key, cursor, count=BULK_BATCH)
            names = sorted(name.decode() for name in fields)
            for i in range(0, len(names), BULK_BATCH):
                chunk = names[i:i + BULK_BATCH]
                codes = SCRIPTS.run(
                    "BIN_RESTORE", self.client,
                    [self.keys.expiry_index, self.keys.name_index, self.keys.stats, bin_key,
                     *(self.keys.value(n) for n in chunk)],
                    [self.limits.max_keys, PRUNE_BATCH, self.limits.max_value_bytes,
                     self.limits.max_ttl * 1000, *chunk],
                )
                for name, code in zip(chunk, codes, strict=True):
                    if code == 0:
                        continue
                    matched += 1
                    if code == 1:
                        restored += 1
                        if len(sample) < SAMPLE_SIZE:
                            sample.append((name, "restored"))
                    else:
                        reason = self._refusal(code)
                        refused[reason] = refused.get(reason, 0) + 1
                        if len(refused_sample) < SAMPLE_SIZE:
                            refused_sample.append((name, reason.text))
            if cursor == 0:
                break
        return self._report("restore", "", False, matched, changed=restored, sample=sample,
                            refused=refused, refused_sample=refused_sample, undo_token=token)

    @raises_unavailable
    def bulk_set_ttl(self, prefix: str, ttl: Any, *, dry_run: bool) -> BulkReport:
        """Give every live key under ``prefix`` the TTL ``ttl`` (validated and clamped as for
        ``set``)."""
        ttl_ms = self._ttl_ms(prefix or "*", ttl)
        names = self._live_names(prefix)
        shown = f"{ttl_ms // 1000} s"
        sample = [(info.key, f"TTL {int(info.ttl_seconds)} s → {shown}")
                  for info in self._read_many(names[:SAMPLE_SIZE])]
        if dry_run:
            return self._report("set_ttl", prefix, True, len(names), changed=len(names), sample=sample)
        changed = 0
        for i in range(0, len(names), BULK_BATCH):
            chunk = names[i:i + BULK_BATCH]
            changed += int(SCRIPTS.run("BULK_TTL", self.client,
                                       [self.keys.expiry_index, *(self.keys.value(n) for n in chunk)],
                                       [ttl_ms, *chunk]))
        gone = len(names) - changed
        return self._report("set_ttl", prefix, False, len(names), changed=changed, sample=sample,
                            refused={Refusal.GONE: gone} if gone else {})

    @raises_unavailable
    def bulk_copy(self, prefix: str, target: str, *, move: bool, overwrite: bool = False,
                  dry_run: bool) -> BulkReport:
        """Copy (or, with ``move``, rename) every live key under ``prefix`` to the same name under
        ``target``, keeping values and expiries. Each key is atomic; a key whose new name is not
        valid, whose destination exists (unless ``overwrite``), or that would break the key
        limit is refused and reported. The names are read first, so keys created under
        ``prefix`` by the operation itself are not copied again."""
        operation = "rename" if move else "copy"
        if not validation.is_valid_key(prefix) or (target and not validation.is_valid_key(target)):
            raise validation.CacheKeyError("Both prefixes must be valid key text")
        if prefix == target:
            raise validation.CacheKeyError("The new prefix is the same as the old one")
        names = self._live_names(prefix)
        pairs: list[tuple[str, str]] = []
        refused: dict[Refusal, int] = {}
        refused_sample: list[tuple[str, str]] = []

        def refuse(name: str, reason: Refusal) -> None:
            refused[reason] = refused.get(reason, 0) + 1
            if len(refused_sample) < SAMPLE_SIZE:
                refused_sample.append((name, reason.text))

        for name in names:
            new = target + name[len(prefix):]
            if validation.is_valid_key(new):
                pairs.append((name, new))
            else:
                refuse(name, Refusal.INVALID_NAME)

        if dry_run:
            # The same checks as COPY_KEYS, in the same order, from reads only.
            existing = {name for name, found in self._per_name("EXISTS", [new for _, new in pairs]).items()
                        if found}
            sizes = self._per_name("STRLEN", [name for name, _ in pairs])
            free = max(self.limits.max_keys - self.live_count(), 0)  # LIVE_COUNT only reads
            changed = 0
            sample = []
            for name, new in pairs:
                if name == new or (new in existing and not overwrite):
                    refuse(name, Refusal.EXISTS)
                    continue
                if sizes[name] > self.limits.max_value_bytes:
                    refuse(name, Refusal.TOO_LARGE)
                    continue
                if new not in existing and not move:
                    if free <= 0:
                        refuse(name, Refusal.KEY_LIMIT)
                        continue
                    free -= 1
                changed += 1
                if len(sample) < SAMPLE_SIZE:
                    sample.append((name, new))
            return self._report(operation, prefix, True, len(names), changed=changed, sample=sample,
                                refused=refused, refused_sample=refused_sample, target=target)

        changed = 0
        sample = []
        for i in range(0, len(pairs), BULK_BATCH):
            chunk = pairs[i:i + BULK_BATCH]
            keys = [self.keys.expiry_index, self.keys.name_index, self.keys.stats]
            args: list = ["1" if move else "0", "1" if overwrite else "0", self.limits.max_keys, PRUNE_BATCH,
                          self.limits.max_value_bytes, self.limits.max_ttl * 1000]
            for name, new in chunk:
                keys += [self.keys.value(name), self.keys.value(new)]
                args += [name, new]
            codes = SCRIPTS.run("COPY_KEYS", self.client, keys, args)
            for (name, new), code in zip(chunk, codes, strict=True):
                if code == 1:
                    changed += 1
                    if len(sample) < SAMPLE_SIZE:
                        sample.append((name, new))
                else:
                    refuse(name, self._refusal(code))
        return self._report(operation, prefix, False, len(names), changed=changed, sample=sample,
                            refused=refused, refused_sample=refused_sample, target=target)


def _increment_refusal(exc: ResponseError, key: str) -> Exception | None:
    """What the INCREMENT script's error reply means for the caller (the contract's increment and
    the dashboard's versioned one share it); None for any other error."""
    if "NOTNUM" in str(exc):
        return NotANumberError(f"Cannot increment key {validation.describe(key)}: its value is not a number")
    if "NOTFINITE" in str(exc):
        return validation.CacheValueError(
            f"Cannot increment key {validation.describe(key)}: the result is not a finite number")
    return None
