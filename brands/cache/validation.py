"""Checks and conversions made before any call reaches Redis: keys, TTLs, values, amounts."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from brands.cache.errors import CacheKeyError, CacheTTLError, CacheValueError

KEY_MAX_LENGTH = 200
KEY_RULE = "keys must be 1 to 200 characters, each a letter, digit, '_', '.', ':' or '-'"
_KEY_PATTERN = re.compile(r"[A-Za-z0-9_.:\-]{1,200}")
_SHOWN_KEY_LENGTH = 40


def shorten(text: str, limit: int = _SHOWN_KEY_LENGTH) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(value: Any) -> str:
    """A short, safe description of a bad argument for an error message."""
    if isinstance(value, str):
        return repr(shorten(value))
    return f"{type(value).__name__} {shorten(repr(value))}"


def validate_key(key: Any) -> str:
    # fullmatch, not match + "$": "$" would accept a trailing newline.
    if isinstance(key, str) and _KEY_PATTERN.fullmatch(key):
        return key
    raise CacheKeyError(f"Invalid cache key {describe(key)}: {KEY_RULE}")


def is_valid_key(key: Any) -> bool:
    return isinstance(key, str) and _KEY_PATTERN.fullmatch(key) is not None


def _is_real_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def ttl_seconds(ttl: Any, *, default_ttl: int, max_ttl: int) -> tuple[int, bool]:
    """The TTL to store, in whole seconds, and whether it was clamped to ``max_ttl``.

    ``None`` means the brand's default. Fractions round up (0.1 s keeps a key for 1 s, never 0).
    """
    if ttl is None:
        return min(default_ttl, max_ttl), False
    if not _is_real_number(ttl) or not math.isfinite(ttl) or ttl <= 0:
        raise CacheTTLError(
            f"Invalid TTL {describe(ttl)}: ttlSeconds must be a finite number of seconds greater than 0"
        )
    seconds = math.ceil(ttl)
    if seconds > max_ttl:
        return max_ttl, True
    return seconds, False


def increment_amount(amount: Any) -> float:
    if not _is_real_number(amount) or not math.isfinite(amount):
        raise CacheValueError(f"Invalid increment amount {describe(amount)}: must be a finite number")
    return float(amount)


# json.dumps with non-default options builds a new JSONEncoder on every call; one shared (and
# stateless) encoder gives the same text a few µs faster on every write (cache_bench).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def to_json(value: Any) -> str:
    """Compact JSON text, the stored form of a value. Non-ASCII stays as UTF-8 (as JavaScript's
    JSON.stringify leaves it), so the size limit counts what a script would produce."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:  # unknown type, NaN/Infinity, circular reference
        raise CacheValueError(f"Value is not JSON-serialisable: {exc}") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_json_text(text: Any) -> str:
    """JSON text given by a caller that serialised the value itself (the script sandbox). Strict
    JSON: Python's json module would also take NaN, Infinity and -Infinity, which no JSON reader
    (a script's JSON.parse included) accepts."""
    if not isinstance(text, str):
        raise CacheValueError(f"Value is not JSON-serialisable: expected JSON text, got {describe(text)}")
    try:
        json.loads(text, parse_constant=_refuse_constant)
    except ValueError:
        raise CacheValueError(f"Value is not valid JSON text: {describe(text)}") from None
    return text


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))
