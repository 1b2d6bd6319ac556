"""What one execution produced, and its JSON form (docs/contract.md#execution-result).

The worker records everything here as the script runs and streams each accepted change to the
parent as an event. If the worker has to be killed (time limit), the parent rebuilds the same
record from the events it received, so a timed-out result still reports what happened before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from brands.cache import readable_json
from brands.scripting import limits

RESULT_FIELDS = (
    "ok", "result", "variables", "redirect", "logs", "ops", "ops_limit", "duration_ms", "error", "warnings",
    "written_keys",
)
# Not a result field: the run's operation counts (brands.cache.take_op_counts), carried from the
# worker to the scheduler, which sends them with the slot release and removes them.
OP_COUNTS_KEY = "_op_counts"
# The keys a run wrote or deleted (in the order first written), for its history and audit entry;
# one run may name this many (its operation budget is normally far smaller).
MAX_WRITTEN_KEYS = 1000

# A timed-out script may have changed a variable millions of times; only this many variable and
# redirect updates are streamed to the parent (the worker's own final result has them all).
STREAMED_UPDATES = 1000

Emit = Callable[[dict], None]


def error_info(name: str, message: str, line: int | None = None) -> dict:
    return {
        "name": str(name)[:100],
        "message": str(message)[: limits.MAX_ERROR_MESSAGE_CHARS],
        "line": line,
    }


def utf8_len(text: str) -> int:
    """UTF-8 bytes of a text; a lone surrogate (possible in a JavaScript string) counts its 3."""
    return len(text.encode("utf-8", "surrogatepass"))


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _escape(match: re.Match) -> str:
    return f"\\u{ord(match.group()):04x}"


def result_json_text(result: Any, *, indent: int | None = None) -> str:
    """JSON text of a result with non-ASCII kept as it is and lone surrogates as \\udXXX escapes
    (the same strings, in a text that encodes to UTF-8)."""
    return readable_json(result, indent=indent)


def escape_unstorable(value: Any) -> Any:
    """``value`` with every NUL and lone surrogate in its strings (keys too) written as its
    JSON escape text (``\\u0000``, ``\\ud83d``). JavaScript strings may hold both; UTF-8 cannot
    carry a lone surrogate, and PostgreSQL's text and jsonb refuse both. For the stored history,
    the HTML page and the terminal; the JSON answers carry the exact strings as escapes."""
    if isinstance(value, str):
        return _UNSTORABLE.sub(_escape, value) if _UNSTORABLE.search(value) else value
    if isinstance(value, dict):
        return {escape_unstorable(k): escape_unstorable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_unstorable(item) for item in value]
    return value


def js_length(text: str) -> int:
    """A string's length as JavaScript counts it (UTF-16 code units): '😀'.length is 2."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class Outcome:
    """The record of one execution. ``apply`` replays a streamed event (parent side)."""

    def __init__(self, ops_limit: int) -> None:
        self.ops_limit = ops_limit
        self.ops = 0
        self.refused_ops = 0
        self.logs: list[dict] = []
        self.variables: dict[str, Any] = {}
        self.redirect: str | None = None
        self.warnings: list[str] = []
        self.truncated = False
        self.updates_streamed_fully = True
        self.written_keys: list[str] = []

    def add_warning(self, text: str) -> bool:
        if text in self.warnings:
            return False
        self.warnings.append(text)
        return True

    def apply(self, event: dict) -> None:
        kind = event.get("ev")
        if kind == "op":
            self.ops = int(event["ops"])
        elif kind == "log":
            self.logs.append({"level": event["level"], "message": event["message"]})
        elif kind == "var":
            self.variables[event["name"]] = event["value"]
        elif kind == "redirect":
            self.redirect = event["url"]
        elif kind == "warning":
            self.add_warning(event["text"])
        elif kind == "truncated":
            self.truncated = True
        elif kind == "stream-stopped":
            self.updates_streamed_fully = False
        elif kind == "wrote":
            self.written_keys.append(event["key"])

    def final_warnings(self) -> list[str]:
        warnings = list(self.warnings)
        if self.refused_ops:
            warnings.append(
                f"{self.refused_ops} cache call(s) refused: the limit of {self.ops_limit} cache "
                "operations per execution was reached"
            )
        if self.truncated:
            warnings.append(
                f"Output truncated: at most {limits.MAX_LOG_ENTRIES} log entries and "
                f"{limits.MAX_OUTPUT_BYTES // 1024} KiB of logs and variables are kept per execution; "
                "the rest was dropped"
            )
        if not self.updates_streamed_fully:
            warnings.append(
                f"Only the first {STREAMED_UPDATES} variable and redirect updates of a stopped script "
                "are reported"
            )
        return warnings

    def to_result(self, *, ok: bool, result: Any = None, error: dict | None = None,
                  duration_ms: float = 0.0) -> dict:
        return {
            "ok": ok,
            "result": result if ok else None,
            "variables": dict(self.variables),
            "redirect": self.redirect,
            "logs": list(self.logs),
            "ops": self.ops,
            "ops_limit": self.ops_limit,
            "duration_ms": round(duration_ms, 3),
            "error": error,
            "warnings": self.final_warnings(),
            "written_keys": list(self.written_keys),
        }


class Capture(Outcome):
    """The worker's side: applies the output bounds and streams accepted changes."""

    def __init__(self, ops_limit: int, emit: Emit) -> None:
        super().__init__(ops_limit)
        self._emit = emit
        self._output_bytes = 0
        self._variable_sizes: dict[str, int] = {}
        self._updates_streamed = 0
        self._written: set[str] = set()

    def warn(self, text: str) -> None:
        if self.add_warning(text):
            self._emit({"ev": "warning", "text": text})

    def wrote(self, key: str) -> None:
        """A cache call changed ``key`` (BrandCache.on_write): kept once, streamed so that a
        stopped script still reports it."""
        if key not in self._written and len(self.written_keys) < MAX_WRITTEN_KEYS:
            self._written.add(key)
            self.written_keys.append(key)
            self._emit({"ev": "wrote", "key": key})

    def take_op(self) -> bool:
        """Count one cache call against the budget; False when the budget is spent."""
        if self.ops >= self.ops_limit:
            self.refused_ops += 1
            return False
        self.ops += 1
        self._emit({"ev": "op", "ops": self.ops})
        return True

    def _drop(self) -> None:
        if not self.truncated:
            self.truncated = True
            self._emit({"ev": "truncated"})

    def log(self, level: str, message: str) -> bool:
        """Keep one log entry if it fits. False when it was dropped because the entry limit is
        reached: no later entry can be kept either."""
        if len(self.logs) >= limits.MAX_LOG_ENTRIES:
            self._drop()
            return False
        size = utf8_len(message)
        if self._output_bytes + size > limits.MAX_OUTPUT_BYTES:
            self._drop()  # a later, smaller entry may still fit
        else:
            self._output_bytes += size
            self.logs.append({"level": level, "message": message})
            self._emit({"ev": "log", "level": level, "message": message})
        return True

    def set_variable(self, name: str, text: str) -> bool:
        """Record a variable from its JSON text if it fits; False when the text is not JSON.
        The size is checked on the text before anything is parsed: a value made of repeated
        references parses into many times its text's size."""
        size = utf8_len(name) + utf8_len(text)
        previous = self._variable_sizes.get(name, 0)
        if self._output_bytes - previous + size > limits.MAX_OUTPUT_BYTES:
            self._drop()
            return True
        try:
            value = json.loads(text)
        except ValueError:
            return False
        self._output_bytes += size - previous
        self._variable_sizes[name] = size
        self.variables[name] = value
        self._stream_update({"ev": "var", "name": name, "value": value})
        return True

    def set_redirect(self, url: str) -> None:
        self.redirect = url
        self._stream_update({"ev": "redirect", "url": url})

    def _stream_update(self, event: dict) -> None:
        if self._updates_streamed < STREAMED_UPDATES:
            self._updates_streamed += 1
            self._emit(event)
        elif self.updates_streamed_fully:
            self.updates_streamed_fully = False
            self._emit({"ev": "stream-stopped"})

    def to_result(self, **kwargs) -> dict:
        # The worker's record is complete, so the "only the first N updates" caveat does not apply.
        self.updates_streamed_fully = True
        return super().to_result(**kwargs)
