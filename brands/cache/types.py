"""Plain values the admin operations return."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


@dataclass(frozen=True)
class KeyInfo:
    key: str
    value_json: str
    ttl_seconds: float

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
