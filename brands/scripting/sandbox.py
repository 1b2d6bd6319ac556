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
from collections.abc import Callable
from decimal import Decimal
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
    shorten,
    take_op_counts,
    validate_key,
)
from brands.scripting import limits
from brands.scripting.engine import EngineHooks
from brands.scripting.outcome import OP_COUNTS_KEY, Capture, Emit, error_info, js_length, utf8_len

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


# QuickJS reads a decimal integer text of 20 or more digits with a shortcut that is off by one
# ulp or more (its js_strtod keeps 19 digits and scales by a power of ten): 541679466370067500000
# reads as 541679466370067460000. With an exponent it takes the correctly rounded strtod path, so
# every such integer in a reply gets "e0" (docs/contract.md#values: get returns what was stored).
# Strings are matched first so that digits inside them are left alone.
_LONG_DIGITS = re.compile(r"\d{20}")
_STRING_OR_LONG_INTEGER = re.compile(r'"(?:[^"\\]|\\.)*"|(?<![\d.eE+\-])-?\d{20,}(?![\d.eE])')


def quickjs_exact(json_text: str) -> str:
    """JSON text that QuickJS's JSON.parse reads to exactly the numbers it denotes."""
    if not _LONG_DIGITS.search(json_text):
        return json_text
    return _STRING_OR_LONG_INTEGER.sub(
        lambda m: m.group() if m.group().startswith('"') else m.group() + "e0", json_text
    )


def js_number_text(number: float) -> str:
    """A finite number as ECMAScript's Number::toString writes it: the fewest digits that read
    back to the same double (Python's repr finds them), laid out plainly from 1e-6 up to 1e21."""
    if number == 0:
        return "0"
    _sign, all_digits, exponent = Decimal(repr(abs(float(number)))).as_tuple()
    n = exponent + len(all_digits)  # where the decimal point goes, counted from the first digit
    digits = "".join(map(str, all_digits)).lstrip("0").rstrip("0")
    n -= len(all_digits) - len("".join(map(str, all_digits)).lstrip("0"))
    k = len(digits)
    text = ""
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        text = f"{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return ("-" if number < 0 else "") + text


# QuickJS writes some doubles with 17 digits where fewer read back the same (exact ties, such as
# 2**-24: 5.9604644775390625e-8 instead of 5.960464477539063e-8), against the ECMAScript rule
# that V8 follows. A stored value's text is written the standard way (docs/contract.md#values).
_SEVENTEEN_DIGITS = re.compile(r"\d[\d.]{16}")
_STRING_OR_NUMBER = re.compile(r'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?')


def standard_numbers(json_text: str) -> str:
    """JSON text with every number written as ECMAScript's Number::toString writes it."""
    if not _SEVENTEEN_DIGITS.search(json_text):
        return json_text

    def fix(match: re.Match) -> str:
        token = match.group()
        if token.startswith('"'):
            return token
        number = float(token)
        return js_number_text(number) if math.isfinite(number) else token

    return _STRING_OR_NUMBER.sub(fix, json_text)


# Replies to the prelude (its $ca$call): JSON text with named fields, always ASCII (a lone
# surrogate in a message must survive the way back into QuickJS).
def _reply(value_json: str) -> str:
    return '{"kind":"value","value":' + quickjs_exact(value_json) + "}"


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
    """The line of the script where an error happened: the innermost frame of the script's own code
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
        # A function's own frame without a line (QuickJS leaves it out when the throw is on the
        # function's first line): the line is not known, and a caller's line would be wrong.
        return None
    return None


class CacheHost:
    """``cache.*`` as seen from Python: the operation budget, argument checks, the service call.

    The prelude sends one JSON payload per call (named fields, arguments with their JavaScript
    type, values as JSON text made by the real JSON.stringify), but nothing is taken on trust:
    the budget is counted here before the payload is even read, and the service validates the
    key, TTL, JSON text and size again.
    """

    def __init__(self, cache: BrandCache, capture: Capture, over_memory: Callable[[], bool]) -> None:
        self.cache = cache
        self.capture = capture
        self.over_memory = over_memory

    def __call__(self, payload=None) -> str:
        op = "?"
        try:
            # Over its memory limit the script is finished, whatever it caught: nothing more is
            # done for it (docs/contract.md#script-execution-limits).
            if self.over_memory():
                return _error(OUT_OF_MEMORY)
            # The budget first: a call after it is spent performs nothing, not even validation.
            if not self.capture.take_op():
                self.cache.count_op("refused_op_budget")
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

    def _key(self, arg: dict) -> str:
        key = arg.get("value")
        # Refused before the service sees it: counted here (the service counts its own).
        if arg.get("type") != "string" or not isinstance(key, str):
            self.cache.count_op("refused_invalid_key")
            raise CacheKeyError(f"Invalid cache key ({_described(arg)}): {KEY_RULE}")
        try:
            return validate_key(key)
        except CacheKeyError:
            self.cache.count_op("refused_invalid_key")
            raise

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
        if utf8_len(text) <= cache.limits.max_value_bytes:  # a refused text is not even scanned
            text = standard_numbers(text)
        if op == "set":
            return _bool(cache.set_json(key, text, ttl))
        return _bool(cache.set_if_absent_json(key, text, ttl))


class OutputHost:
    """``setVariable``, ``redirect`` and ``console.*``: checked and bounded in Python."""

    def __init__(self, capture: Capture, over_memory: Callable[[], bool]) -> None:
        self.capture = capture
        self.over_memory = over_memory

    def __call__(self, payload=None) -> str:
        try:
            if self.over_memory():
                return _error(OUT_OF_MEMORY)
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
            # docs/contract.md#script-globals: a name must be a non-empty string; one longer than
            # the bound is dropped with a warning, like any other output over its bound.
            name_arg = _arg(request, "name")
            name = name_arg.get("value")
            if name_arg.get("type") != "string" or not isinstance(name, str) or not name:
                return _type_error(
                    f"setVariable(name, value): name must be a non-empty string, got {_described(name_arg)}"
                )
            value = request.get("value") if isinstance(request.get("value"), dict) else {}
            text = value.get("json")
            if not isinstance(text, str):
                return _type_error(
                    f"setVariable({shorten(name)!r}, value): the value is not JSON-serialisable "
                    f"({str(value.get('error'))[:200]})"
                )
            if js_length(name) > limits.MAX_VARIABLE_NAME_CHARS:
                capture.warn(
                    f"setVariable: names longer than {limits.MAX_VARIABLE_NAME_CHARS} characters "
                    "are dropped"
                )
                return _NULL
            if not capture.set_variable(name, text):
                return _type_error(f"setVariable({shorten(name)!r}, value): the value is not valid JSON")
            return _NULL
        if call == "redirect":
            url_arg = _arg(request, "url")
            url = url_arg.get("value")
            if url_arg.get("type") != "string" or not isinstance(url, str):
                return _type_error(f"redirect(url): url must be a string, got {_described(url_arg)}")
            if js_length(url) > limits.MAX_REDIRECT_CHARS:
                capture.warn(
                    f"redirect: URLs longer than {limits.MAX_REDIRECT_CHARS} characters are dropped"
                )
                return _NULL
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


OUT_OF_MEMORY = "out of memory"


def _out_of_memory(memory_mb: int) -> dict:
    return error_info(
        "InternalError", f"out of memory: the script exceeded the memory limit of {memory_mb} MiB"
    )


def execute(job: dict, emit: Emit) -> dict:
    """Run ``job`` (see brands.scripting.build_job) and return the execution result."""
    started = time.perf_counter()
    memory_mb = int(job["memory_mb"])
    capture = Capture(int(job["ops_limit"]), emit)
    cache = BrandCache(int(job["brand_id"]), CacheLimits(**job["limits"]), source="script")
    cache.on_write = capture.wrote  # the run's history records the keys it wrote
    report = _Report()

    context = quickjs.Context()
    hooks = EngineHooks(context, memory_limit=memory_mb * 1024 * 1024)
    try:
        error, result = _run(context, hooks, job, capture, cache, report, memory_mb)
    finally:
        hooks.close()
    duration_ms = (time.perf_counter() - started) * 1000
    outcome = capture.to_result(ok=error is None, result=result, error=error, duration_ms=duration_ms)
    # The run's operation counts (brands.cache.opcounts) go back with its result: the scheduler
    # sends them in the round trip that gives the run's slot back, so they cost no round trip of
    # their own. A run killed by its time limit never gets here: its counts are lost with it.
    outcome[OP_COUNTS_KEY] = take_op_counts()
    return outcome


def _run(context: quickjs.Context, hooks: EngineHooks, job: dict, capture: Capture, cache: BrandCache,
         report: _Report, memory_mb: int) -> tuple[dict | None, Any]:
    context.set_max_stack_size(js_stack_bytes())
    # Host functions enter QuickJS as globals; the prelude receives them as arguments and the
    # globals are deleted again before user code runs, so only the prelude's closures hold them.
    context.add_callable("__ca_cache", CacheHost(cache, capture, hooks.over_memory_limit))
    context.add_callable("__ca_output", OutputHost(capture, hooks.over_memory_limit))
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
        finished = report.request is not None and report.request.get("kind") == "result"
        if finished and hooks.unhandled_rejections:
            # A promise rejected with nothing to handle it fails the run, as in Node.js
            # (docs/contract.md#script-globals): reported like an uncaught error.
            hooks.expose_first_rejection(b"__ca_rejection")
            report.request = None
            runner(None)
            if report.request is not None and report.request.get("kind") == "error":
                capture.warn("A promise was rejected and nothing handled the rejection")
    except quickjs.JSException as exc:
        # Only the engine itself gets here (the runner catches what scripts throw): the memory
        # limit (the interrupt that stops a script over it cannot be caught), or the memory
        # running out while the error was being reported.
        text = str(exc)
        if hooks.over_memory_limit() or "out of memory" in text or text.startswith("null"):
            error = _out_of_memory(memory_mb)
        else:
            first = text.splitlines()[0] if text else "error"
            name, _, message = first.partition(": ")
            error = error_info(name if message else "InternalError", message or first)

    outcome = report.request or {}
    if error is None and hooks.over_memory_limit():
        error = _out_of_memory(memory_mb)  # whatever the script caught
    if error is None:
        if outcome.get("kind") == "error":
            name, message = str(outcome.get("name")), str(outcome.get("message"))
            stack = str(outcome.get("stack") or "")
            if (name == "InternalError" and message == OUT_OF_MEMORY) or (
                outcome.get("threwNull") is True and _null_was_out_of_memory(context, memory_mb, job["code"])
            ):
                error = _out_of_memory(memory_mb)
            else:
                error = error_info(name, message, error_line(stack))
        elif outcome.get("kind") == "result":
            result = _completion_value(outcome.get("json"), capture)
    return error, result


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
    if utf8_len(text) > limits.MAX_RESULT_BYTES:  # bytes, as the limit says; checked before parsing
        capture.warn(
            f"The script's result is larger than {limits.MAX_RESULT_BYTES // 1024} KiB of JSON; "
            "it is reported as null"
        )
        return None
    return json.loads(text)
