"""Plain values the admin operations return."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


def key_version(value_json: str, expires_at_ms: int) -> str:
    """The version of a key as the write scripts check it: its expiry (ms, Redis clock; 0 when
    it has none) and the SHA-1 of its JSON text (docs/contract.md#dashboard-use)."""
    return f"{int(expires_at_ms)}:{hashlib.sha1(value_json.encode('utf-8')).hexdigest()}"


@dataclass(frozen=True)
class KeyInfo:
    key: str
    value_json: str
    ttl_seconds: float
    # The key's expiry on Redis' clock (ms since the epoch); None where the read did not ask.
    expires_at_ms: int | None = None

    @property
    def version(self) -> str:
        return key_version(self.value_json, self.expires_at_ms or 0)

    @cached_property
    def value(self) -> Any:
        return json.loads(self.value_json)

    @property
    def size_bytes(self) -> int:
        return len(self.value_json.encode("utf-8"))

    @property
    def json_type(self) -> str:
        value = self.value
        return _JSON_TYPES.get(type(value), "number")


@dataclass(frozen=True)
class KeyPage:
    items: list[KeyInfo]
    next_cursor: str | None


@dataclass(frozen=True)
class NamespaceNode:
    prefix: str
    label: str
    key_count: int
    is_leaf: bool


@dataclass
class ImportReport:
    """What an import did (or, for a dry run, would do). ``refused`` lists the first refusals
    (line number, key or "", reason); ``refused_count`` counts them all."""

    written: int = 0
    refused: list[tuple[int, str, str]] = field(default_factory=list)
    refused_count: int = 0
    lines: int = 0  # non-blank lines read
    skipped: int = 0  # existing keys left as they were (policy "skip")
    clamped: int = 0  # TTLs above the brand's maximum, cut to it
    policy: str = "overwrite"
    dry_run: bool = False
    stopped_at: tuple[int, str] | None = None  # (line, key) of the first existing key (policy "stop")
    interrupted_at: int | None = None  # first line not confirmed when Redis became unreachable
    unconfirmed: int = 0  # lines sent whose answer never came

    @property
    def refused_hidden(self) -> int:
        return self.refused_count - len(self.refused)


@dataclass(frozen=True)
class LiveCounts:
    """One brand's figures as Redis holds them; brands.usage adds the limit and the levels."""

    live_keys: int
    refused_writes: int


class Refusal(StrEnum):
    """Why a dashboard write (versioned edit, restore, bulk operation) did not happen."""

    CHANGED = "changed"        # the key is not what the user saw any more
    GONE = "gone"              # deleted or expired since
    EXISTS = "exists"          # the key (or a copy's destination) exists
    EXPIRED = "expired"        # restoring it would bring back a key past its expiry
    KEY_LIMIT = "key_limit"    # it would add a key to a full brand
    TOO_LARGE = "too_large"    # the value is above the brand's size limit
    INVALID_NAME = "invalid_name"  # a copy's destination name is not a valid key

    @property
    def text(self) -> str:
        return REFUSAL_TEXT[self]


REFUSAL_TEXT = {
    Refusal.CHANGED: "changed since",
    Refusal.GONE: "deleted or expired since",
    Refusal.EXISTS: "the key exists",
    Refusal.EXPIRED: "it would have expired by now",
    Refusal.KEY_LIMIT: "the key limit is reached",
    Refusal.TOO_LARGE: "the value is above the size limit",
    Refusal.INVALID_NAME: "the new name is not a valid key",
}


@dataclass(frozen=True)
class WriteResult:
    """What a versioned write or a restore did: ``refusal`` is None when it was written."""

    refusal: Refusal | None = None
    expires_at_ms: int | None = None  # the key's expiry after the write
    value_json: str | None = None     # what is stored now (increment: the new number)

    @property
    def ok(self) -> bool:
        return self.refusal is None


@dataclass(frozen=True)
class BulkReport:
    """A bulk operation on the keys under a prefix, done or only previewed (``dry_run``).

    ``matched`` live keys were looked at; ``changed`` were (or would be) changed; ``sample``
    shows the first changes as (key, what happens); ``refused`` counts the others by reason, with
    the first of them in ``refused_sample`` as (key, reason)."""

    operation: str
    prefix: str
    dry_run: bool
    matched: int = 0
    changed: int = 0
    sample: list[tuple[str, str]] = field(default_factory=list)
    refused: dict[Refusal, int] = field(default_factory=dict)
    refused_sample: list[tuple[str, str]] = field(default_factory=list)
    target: str = ""                  # copy / rename: the destination prefix
    undo_token: str = ""              # delete: where the deleted keys are kept
    undo_until_ms: int | None = None  # delete: end of the undo window (Redis clock, ms)

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())


@dataclass(frozen=True)
class TreeLevel:
    """One level of the key browser's tree: namespaces, and the plain keys beside them listed or,
    past a bound, only counted (``leaf_count``)."""

    prefix: str
    namespaces: list[NamespaceNode]
    leaves: list[NamespaceNode]
    leaf_count: int
    truncated: bool

    @property
    def leaves_grouped(self) -> bool:
        return self.leaf_count > len(self.leaves)
