"""One script execution inside a worker process: a fresh QuickJS context, the prelude, and the
host functions that enforce every limit in Python.

This module runs only in the worker (brands.scripting.worker); the wall-clock limit is enforced by
the parent (brands.scripting.pool), which kills a worker that overruns. Everything here must keep
going after any script: host functions never raise into QuickJS (the quickjs package turns a
Python exception into a SystemError), and each execution gets its own context and runtime, so
nothing a script does survives it.
"""

from __future__ import annotations

import json
import logging
import math
import re
import resource
import time
from functools import cache
from pathlib import Path
from typing import Any

import quickjs

from brands.cache import (
    KEY_RULE,
    BrandCache,
    CacheKeyError,
    CacheLimits,
    CacheTTLError,
    CacheValueError,
    NotANumberError,
    validate_key,
)
from brands.scripting import limits
from brands.scripting.outcome import Capture, Emit, error_info

logger = logging.getLogger(__name__)

LOG_LEVELS = frozenset({"log", "info", "warn", "error"})
CACHE_OPS = frozenset({"get", "set", "del", "has", "setIfAbsent", "increment"})
_SERVICE_ERRORS = (CacheKeyError, CacheTTLError, CacheValueError, NotANumberError)

# Stack frames as QuickJS prints them: "    at f (<input>:5)", "    at f (<input>)" (no line:
# QuickJS leaves it out when it is the function's first line), "    at <input>:4" (syntax errors).
_FRAME = re.compile(r"^\s*at (?:(?P<fn>.*?) \()?<input>(?::(?P<line>\d+))?\)?\s*$")


@cache
def prelude_source() -> str:
    return (Path(__file__).with_name("prelude.js")).read_text(encoding="utf-8")


@cache
def js_stack_bytes() -> int:
    """QuickJS's default stack allowance (256 KiB, about 400 nested calls) is too tight for
    ordinary recursive code. The worker runs scripts on its main thread, so half of that
    thread's stack, at most 4 MiB, is safe; deeper recursion still ends in a catchable
    "stack overflow" InternalError, never a crash."""
    soft, _ = resource.getrlimit(resource.RLIMIT_STACK)
    if soft == resource.RLIM_INFINITY or soft <= 0:
        soft = 8 * 1024 * 1024
    return max(256 * 1024, min(4 * 1024 * 1024, soft // 2))


# Replies to the prelude (its $ca$call): JSON text with named fields, always ASCII (a lone
# surrogate in a message must survive the way back into QuickJS).
def _reply(value_json: str) -> str:
    return '{"kind":"value","value":' + value_json + "}"


_TRUE, _FALSE, _NULL = _reply("true"), _reply("false"), _reply("null")


def _type_error(message: str) -> str:
    return json.dumps({"kind": "typeError", "message": message})


def _error(message: str) -> str:
    return json.dumps({"kind": "error", "message": message})


def _bool(value: bool) -> str:
    return _TRUE if value else _FALSE


def _request(payload: Any) -> dict:
    """A call's JSON payload as a dict (a script that broke JSON.stringify sends garbage)."""
    try:
        request = json.loads(payload) if isinstance(payload, str) else None
    except ValueError:
        request = None
    return request if isinstance(request, dict) else {}


def _arg(request: dict, name: str) -> dict:
    arg = request.get(name)
    return arg if isinstance(arg, dict) else {"type": "undefined"}


def _type_of(arg: dict) -> str:
    return str(arg.get("type", "undefined"))[:20]


def _described(arg: dict) -> str:
    """A short description of a key that is not a string: its type, and its value for a number,
    boolean or bigint ("number 5", "boolean true", "undefined")."""
    value, text = arg.get("value"), arg.get("text")
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = js_number(value)
    return f"{_type_of(arg)} {str(text)[:40]}" if isinstance(text, str) else _type_of(arg)


def js_number(number: float) -> str:
    """A number as JavaScript prints it in a message (NaN, Infinity, 5 rather than 5.0)."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return str(int(number)) if float(number).is_integer() and abs(number) < 1e21 else repr(float(number))


def error_line(stack: str) -> int | None:
    """The line of the script where an error happened: the first frame of the script's own code
    that has a line (frames of the prelude, named $ca$..., are left out)."""
    lines = stack.splitlines()[:10_000]
    for index, raw in enumerate(lines):
        match = _FRAME.match(raw)
        if match is None:
            continue
        function = match.group("fn") or ""
        if function.startswith("$ca$"):
            continue
        if match.group("line"):
            return int(match.group("line"))
        # The script's top level (called by the runner's eval) without a line: its first line.
        following = lines[index + 1].strip() if index + 1 < len(lines) else ""
        if function == "<eval>" and following == "at eval (native)":
            return 1
    return None


class CacheHost:
    """``cache.*`` as seen from Python: the operation budget, argument checks, the service call.

    The prelude sends one JSON payload per call (named fields, arguments with their JavaScript
    type, values as JSON text made by the real JSON.stringify), but nothing is taken on trust:
    the budget is counted here before the payload is even read, and the service validates the
    key, TTL, JSON text and size again.
    """

    def __init__(self, cache: BrandCache, capture: Capture) -> None:
        self.cache = cache
        self.capture = capture

    def __call__(self, payload=None) -> str:
        op = "?"
        try:
            # The budget first: a call after it is spent performs nothing, not even validation.
            if not self.capture.take_op():
                request = _request(payload)
                op = str(request.get("op", "?"))[:20]
                return _error(
                    f"cache.{op}: the limit of {self.capture.ops_limit} cache operations per "
                    "execution was reached"
                )
            request = _request(payload)
            op = request.get("op")
            if op not in CACHE_OPS:
                return _error("unknown cache operation")
            try:
                return self._operate(op, request)
            except _SERVICE_ERRORS as exc:
                return _type_error(str(exc))
        except Exception:  # never let Python raise into QuickJS
            logger.exception("cache host function failed")
            return _error(f"cache.{op}: internal error")
        finally:
            self._collect_warnings()

    def _collect_warnings(self) -> None:
        for text in self.cache.warnings:
            self.capture.warn(text)
        self.cache.warnings.clear()

    @staticmethod
    def _key(arg: dict) -> str:
        key = arg.get("value")
        if arg.get("type") != "string" or not isinstance(key, str):
            raise CacheKeyError(f"Invalid cache key ({_described(arg)}): {KEY_RULE}")
        return validate_key(key)

    @staticmethod
    def _ttl(arg: dict) -> Any:
        kind = arg.get("type")
        if kind in ("undefined", "null"):
            return None
        if kind != "number":
            raise CacheTTLError(
                f"Invalid TTL ({_type_of(arg)}): "
                "ttlSeconds must be a finite number of seconds greater than 0"
            )
        value = arg.get("value")
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            # The service refuses it too; this only words the message the JavaScript way.
            shown = arg.get("text") if value is None else js_number(value)
            raise CacheTTLError(
                f"Invalid TTL {str(shown)[:40]}: "
                "ttlSeconds must be a finite number of seconds greater than 0"
            )
        return value

    @staticmethod
    def _amount(arg: dict) -> Any:
        kind = arg.get("type")
        if kind == "undefined":
            return 1
        value = arg.get("value")
        if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
            return value
        if kind == "number":
            shown = str(arg.get("text"))[:40]
            raise CacheValueError(f"Invalid increment amount {shown}: must be a finite number")
        raise CacheValueError(f"Invalid increment amount ({_type_of(arg)}): must be a finite number")

    def _operate(self, op: str, request: dict) -> str:
        key = self._key(_arg(request, "key"))
        cache = self.cache
        if op == "get":
            text = cache.get_json(key)
            return _NULL if text is None else _reply(text)
        if op == "has":
            return _bool(cache.has(key))
        if op == "del":
            return _bool(cache.delete(key))
        if op == "increment":
            amount = self._amount(_arg(request, "amount"))
            text = cache.increment_json(key, amount, self._ttl(_arg(request, "ttl")))
            return _NULL if text is None else _reply(text)
        # set / setIfAbsent
        value = request.get("value") if isinstance(request.get("value"), dict) else {}
        text = value.get("json")
        if not isinstance(text, str):
            raise CacheValueError(
                f"Cannot store the value for key {key!r}: it is not JSON-serialisable "
                f"({str(value.get('error'))[:200]})"
            )
        ttl = self._ttl(_arg(request, "ttl"))
        if op == "set":
            return _bool(cache.set_json(key, text, ttl))
        return _bool(cache.set_if_absent_json(key, text, ttl))


class OutputHost:
    """``setVariable``, ``redirect`` and ``console.*``: checked and bounded in Python."""

    def __init__(self, capture: Capture) -> None:
        self.capture = capture

    def __call__(self, payload=None) -> str:
        try:
            return self._call(_request(payload))
        except Exception:  # never let Python raise into QuickJS
            logger.exception("output host function failed")
            return _error("internal error")

    def _call(self, request: dict) -> str:
        capture = self.capture
        call = request.get("call")
        if call == "log":
            level, message = request.get("level"), request.get("message")
            if level not in LOG_LEVELS or not isinstance(message, str):
                return _type_error("console: bad log call")
            return _bool(capture.log(level, message))
        if call == "var":
            name_arg = _arg(request, "name")
            name = name_arg.get("value")
            valid = (name_arg.get("type") == "string" and isinstance(name, str)
                     and 0 < len(name) <= limits.MAX_VARIABLE_NAME_CHARS and "\0" not in name)
            if not valid:
                return _type_error(
                    f"setVariable(name, value): name must be a non-empty string of at most "
                    f"{limits.MAX_VARIABLE_NAME_CHARS} characters (and no NUL)"
                )
            value = request.get("value") if isinstance(request.get("value"), dict) else {}
            text = value.get("json")
            if not isinstance(text, str):
                return _type_error(
                    f"setVariable({name[:40]!r}, value): the value is not JSON-serialisable "
                    f"({str(value.get('error'))[:200]})"
                )
            try:
                json.loads(text)
            except ValueError:
                return _type_error(f"setVariable({name[:40]!r}, value): the value is not valid JSON")
            capture.set_variable(name, text)
            return _NULL
        if call == "redirect":
            url_arg = _arg(request, "url")
            url = url_arg.get("value")
            if not isinstance(url, str) or len(url) > limits.MAX_REDIRECT_CHARS:
                return _type_error(
                    f"redirect(url): url must be a string of at most {limits.MAX_REDIRECT_CHARS} "
                    f"characters, got {_type_of(url_arg)}"
                )
            capture.set_redirect(url)
            return _NULL
        return _error("unknown output call")


class _Report:
    """Where the runner leaves its outcome: the completion value's JSON text, or the error."""

    def __init__(self) -> None:
        self.request: dict | None = None

    def __call__(self, payload=None) -> None:
        if self.request is None:
            self.request = _request(payload)


def _out_of_memory(memory_mb: int) -> dict:
    return error_info(
        "InternalError", f"out of memory: the script exceeded the memory limit of {memory_mb} MiB"
    )


def execute(job: dict, emit: Emit) -> dict:
    """Run ``job`` (see brands.scripting.build_job) and return the execution result."""
    started = time.perf_counter()
    memory_mb = int(job["memory_mb"])
    capture = Capture(int(job["ops_limit"]), emit)
    cache = BrandCache(int(job["brand_id"]), CacheLimits(**job["limits"]))
    cache.on_write = capture.wrote  # the run's history records the keys it wrote
    report = _Report()

    context = quickjs.Context()
    context.set_memory_limit(memory_mb * 1024 * 1024)
    context.set_max_stack_size(js_stack_bytes())
    # Host functions enter QuickJS as globals; the prelude receives them as arguments and the
    # globals are deleted again before user code runs, so only the prelude's closures hold them.
    context.add_callable("__ca_cache", CacheHost(cache, capture))
    context.add_callable("__ca_output", OutputHost(capture))
    context.add_callable("__ca_report", report)
    install = context.eval(prelude_source())
    runner = install(context.get("__ca_cache"), context.get("__ca_output"), context.get("__ca_report"))
    context.eval("delete globalThis.__ca_cache; delete globalThis.__ca_output; "
                 "delete globalThis.__ca_report;")

    error: dict | None = None
    result: Any = None
    try:
        runner(job["code"])
        # Promise jobs (async functions) run to completion inside the same execution.
        while context.execute_pending_job():
            pass
    except quickjs.JSException as exc:
        # Only the engine itself gets here (the runner catches what scripts throw): in practice
        # the memory limit, hit again while the error was being reported.
        text = str(exc)
        if "out of memory" in text or text.startswith("null"):
            error = _out_of_memory(memory_mb)
        else:
            first = text.splitlines()[0] if text else "error"
            name, _, message = first.partition(": ")
            error = error_info(name if message else "InternalError", message or first)

    outcome = report.request or {}
    if error is None:
        if outcome.get("kind") == "error":
            name, message = str(outcome.get("name")), str(outcome.get("message"))
            stack = str(outcome.get("stack") or "")
            if (name == "InternalError" and message == "out of memory") or (
                outcome.get("threwNull") is True and _null_was_out_of_memory(context, memory_mb, job["code"])
            ):
                error = _out_of_memory(memory_mb)
            else:
                error = error_info(name, message, error_line(stack))
        elif outcome.get("kind") == "result":
            result = _completion_value(outcome.get("json"), capture)

    duration_ms = (time.perf_counter() - started) * 1000
    return capture.to_result(ok=error is None, result=result, error=error, duration_ms=duration_ms)


def _null_was_out_of_memory(context: quickjs.Context, memory_mb: int, code: str) -> bool:
    """QuickJS throws ``null`` when it cannot even allocate the out-of-memory error. A script may
    also ``throw null`` itself; that needs the word "throw" in its code, and with the memory still
    mostly free that is what happened."""
    if "throw" not in code:
        return True
    try:
        used = context.memory()["malloc_size"]
    except Exception:
        return True
    return used > memory_mb * 1024 * 1024 // 2


def _completion_value(text: Any, capture: Capture) -> Any:
    if not isinstance(text, str):
        return None
    if len(text) > limits.MAX_RESULT_BYTES:
        capture.warn(
            f"The script's result is larger than {limits.MAX_RESULT_BYTES // 1024} KiB of JSON; "
            "it is reported as null"
        )
        return None
    return json.loads(text)
