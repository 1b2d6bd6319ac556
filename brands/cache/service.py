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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import wraps
from typing import Any

from redis.exceptions import ResponseError

from brands.cache import bulk, validation
from brands.cache.connection import UNAVAILABLE_ERRORS, redis_client
from brands.cache.errors import CacheUnavailable, NotANumberError
from brands.cache.layout import BrandKeys
from brands.cache.scripts import PRUNE_BATCH, SCRIPTS
from brands.cache.types import ImportReport, KeyInfo, KeyPage, NamespaceNode

UNAVAILABLE_WARNING = "cache unavailable"
_LEX_TOP = b"\xff"  # sorts after every valid key character


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

    def __init__(self, brand_id: int, limits: CacheLimits, *, raise_unavailable: bool = False) -> None:
        self.brand_id = int(brand_id)
        self.limits = limits
        self.raise_unavailable = raise_unavailable
        self.keys = BrandKeys.for_brand(self.brand_id)
        self.warnings: list[str] = []
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
        # If Redis is down the refusal still stands; only the monitoring counter is lost.
        with contextlib.suppress(*UNAVAILABLE_ERRORS):
            self._run("COUNT_REFUSAL", key, ["value_size"])

    def _refuse_limit(self, key: str) -> None:
        self.warnings.append(
            f"key limit of {self.limits.max_keys} keys reached; key {validation.describe(key)} "
            "was not created"
        )

    # ------------------------------------------------------------------ contract operations
    # Arguments are validated before the decorated body can reach Redis, so bad input raises a
    # TypeError whether or not Redis is up.

    def get_json(self, key: str) -> str | None:
        return self._get_json(validation.validate_key(key))

    @soft_failure(None)
    def _get_json(self, key: str) -> str | None:
        raw = self.client.get(self.keys.value(key))
        return None if raw is None else raw.decode("utf-8")

    def get(self, key: str) -> Any:
        text = self.get_json(key)
        return None if text is None else json.loads(text)

    def has(self, key: str) -> bool:
        return self._has(validation.validate_key(key))

    @soft_failure(False)
    def _has(self, key: str) -> bool:
        return self.client.exists(self.keys.value(key)) == 1

    def delete(self, key: str) -> bool:
        return self._delete(validation.validate_key(key))

    @soft_failure(False)
    def _delete(self, key: str) -> bool:
        self._run("DELETE", key, [key])
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
        return outcome == 1

    def _write_json(self, key: str, text: str, ttl: Any, *, only_if_absent: bool) -> bool:
        """A write of JSON text serialised by the caller. A text over the size limit is refused
        for its size before it is parsed: a value made of repeated references parses into many
        times its text's size, and it would be refused anyway."""
        key = validation.validate_key(key)
        if isinstance(text, str) and validation.utf8_size(text) > self.limits.max_value_bytes:
            # _write checks the TTL (a bad one still throws first), then refuses the size.
            return self._write(key, text, ttl, only_if_absent=only_if_absent)
        return self._write(key, validation.check_json_text(text), ttl, only_if_absent=only_if_absent)

    def set_json(self, key: str, text: str, ttl: Any = None) -> bool:
        return self._write_json(key, text, ttl, only_if_absent=False)

    def set(self, key: str, value: Any, ttl: Any = None) -> bool:
        key = validation.validate_key(key)
        return self._write(key, validation.to_json(value), ttl, only_if_absent=False)

    def set_if_absent_json(self, key: str, text: str, ttl: Any = None) -> bool:
        return self._write_json(key, text, ttl, only_if_absent=True)

    def set_if_absent(self, key: str, value: Any, ttl: Any = None) -> bool:
        key = validation.validate_key(key)
        return self._write(key, validation.to_json(value), ttl, only_if_absent=True)

    def increment_json(self, key: str, amount: Any = 1, ttl: Any = None) -> str | None:
        key = validation.validate_key(key)
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
            if "NOTNUM" in str(exc):
                raise NotANumberError(
                    f"Cannot increment key {validation.describe(key)}: its value is not a number"
                ) from None
            if "NOTFINITE" in str(exc):
                raise validation.CacheValueError(
                    f"Cannot increment key {validation.describe(key)}: the result is not a finite number"
                ) from None
            raise
        if outcome[0] == -1:
            self._refuse_limit(key)
            return None
        if outcome[0] == -2:
            self.warnings.append(
                f"value for key {validation.describe(key)} is {outcome[1]} bytes, above the limit of "
                f"{self.limits.max_value_bytes} bytes; not written"
            )
            return None
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
            results[index] = outcome == 1
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
    def stored_bytes(self, batch: int = 2000) -> int:
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
        items = [
            KeyInfo(key=flat[i].decode(), value_json=flat[i + 1].decode("utf-8"),
                    ttl_seconds=max(int(flat[i + 2]), 0) / 1000)
            for i in range(0, len(flat), 3)
        ]
        next_cursor = items[limit - 1].key if len(items) > limit else None
        return KeyPage(items=items[:limit], next_cursor=next_cursor)

    @raises_unavailable
    def key_info(self, key: str) -> KeyInfo | None:
        key = validation.validate_key(key)
        pipe = self.client.pipeline(transaction=False)  # connects on a cluster: inside the decorator
        pipe.get(self.keys.value(key))
        pipe.pttl(self.keys.value(key))
        value, pttl = pipe.execute()
        if value is None:
            return None
        return KeyInfo(key=key, value_json=value.decode("utf-8"), ttl_seconds=max(int(pttl), 0) / 1000)

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
        return int(self.client.zlexcount(self.keys.name_index, start, stop))

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
    def delete_all(self) -> int:
        deleted = self.delete_prefix("")
        self.client.delete(*self.keys.index_keys, *self.keys.run_keys)
        return deleted

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
