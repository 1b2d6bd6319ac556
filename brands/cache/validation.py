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


def _is_finite(value: int | float) -> bool:
    """math.isfinite, for Python's unbounded ints too: an int beyond the double range (a TTL
    of 400 digits) is not finite, as the same number would be Infinity in JavaScript."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def ttl_seconds(ttl: Any, *, default_ttl: int, max_ttl: int) -> tuple[int, bool]:
    """The TTL to store, in whole seconds, and whether it was clamped to ``max_ttl``.

    ``None`` means the brand's default. Fractions round up (0.1 s keeps a key for 1 s, never 0).
    """
    if ttl is None:
        return min(default_ttl, max_ttl), False
    if not _is_real_number(ttl) or not _is_finite(ttl) or ttl <= 0:
        raise CacheTTLError(
            f"Invalid TTL {describe(ttl)}: ttlSeconds must be a finite number of seconds greater than 0"
        )
    seconds = math.ceil(ttl)
    if seconds > max_ttl:
        return max_ttl, True
    return seconds, False


def increment_amount(amount: Any) -> float:
    if not _is_real_number(amount) or not _is_finite(amount):
        raise CacheValueError(f"Invalid increment amount {describe(amount)}: must be a finite number")
    return float(amount)


# json.dumps with non-default options builds a new JSONEncoder on every call; one shared (and
# stateless) encoder gives the same text a few µs faster on every write (cache_bench).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def to_json(value: Any) -> str:
    """Compact JSON text, the stored form of a value. Non-ASCII stays as UTF-8 (as JavaScript's
    JSON.stringify leaves it), so the size limit counts what a script would produce. A lone
    surrogate (JSON "\\ud800" read back) has no UTF-8 form: it stays escaped, as JavaScript's
    well-formed JSON.stringify writes it."""
    try:
        text = _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:  # unknown type, NaN/Infinity, circular reference
        raise CacheValueError(f"Value is not JSON-serialisable: {exc}") from None
    return _escape_lone_surrogates(text)


def readable_json(value: Any, *, indent: int | None = 2) -> str:
    """JSON text of a value for people (the key page, the audit diff, a script's result): indented,
    non-ASCII as it is, and lone surrogates escaped as in ``to_json``, so that the page, which is
    UTF-8, can always be written (an unescaped one made the key page answer 500)."""
    return _escape_lone_surrogates(json.dumps(value, indent=indent, ensure_ascii=False))


def _escape_lone_surrogates(text: str) -> str:
    if not text.isascii() and _LONE_SURROGATE.search(text):
        text = _LONE_SURROGATE.sub(lambda match: f"\\u{ord(match[0]):04x}", text)
    return text


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


# ---------------------------------------------------------------------------- JSON text in

# The deepest nesting accepted in JSON text from outside (an import line, a value typed in a
# form): deep enough for any value of a 512-byte brand (at most 256 levels), shallow enough that
# parsing and re-encoding stay far from Python's recursion limit wherever they run.
MAX_JSON_DEPTH = 500
_DOUBLE_MAX_DIGITS = 309  # 1.8e308 has 309 digits


class NumberOutOfRange(ValueError):
    """A JSON number beyond the double range: JavaScript would read it as Infinity."""

    def __init__(self, text: str) -> None:
        super().__init__(
            f"the number {shorten(text, 24)} is out of range: numbers must fit in a double "
            "(at most about 1.8e308)"
        )


def finite_float(text: str) -> float:
    """``parse_float`` for json: 1e400 is refused rather than read as infinity."""
    value = float(text)
    if math.isinf(value):
        raise NumberOutOfRange(text)
    return value


def ranged_int(text: str) -> int:
    """``parse_int`` for json: integers beyond the double range are refused (and a
    5,000-digit one is never converted at all)."""
    if len(text) < _DOUBLE_MAX_DIGITS - 9:
        return int(text)
    if len(text.lstrip("-")) > _DOUBLE_MAX_DIGITS:
        raise NumberOutOfRange(text)
    value = int(text)
    if not _is_finite(value):
        raise NumberOutOfRange(text)
    return value


def _not_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_STRICT_DECODER = json.JSONDecoder(
    parse_float=finite_float, parse_int=ranged_int, parse_constant=_not_json_constant
)


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in ``text`` (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def check_json_depth(text: str) -> None:
    # Counting brackets is C-fast; the exact scan only runs for text that could be too deep.
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH:
        depth = json_depth(text)
        if depth > MAX_JSON_DEPTH:
            raise CacheValueError(
                f"nested {depth:,} levels deep; at most {MAX_JSON_DEPTH} levels are accepted"
            )


def parse_json_text(text: str) -> Any:
    """JSON text from outside, parsed strictly: NaN/Infinity, numbers beyond the double range
    and nesting deeper than MAX_JSON_DEPTH are refused with CacheValueError, whose message says
    what is wrong and where."""
    check_json_depth(text)
    try:
        return _STRICT_DECODER.decode(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}" if exc.lineno > 1 else f"column {exc.colno}"
        raise CacheValueError(f"not valid JSON: {exc.msg} ({where})") from None
    except RecursionError:
        raise CacheValueError("nested too deeply to read") from None
    except ValueError as exc:  # NumberOutOfRange, NaN / Infinity
        raise CacheValueError(str(exc)) from None
