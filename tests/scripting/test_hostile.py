"""Hostile scripts: each must be stopped or contained, and the next execution must run normally."""

from __future__ import annotations

import threading

import pytest

from brands.cache import BrandCache, BrandKeys
from brands.scripting import limits
from tests.support.scripts import value

# ---------------------------------------------------------------- time


def test_an_endless_loop_is_stopped_at_the_time_limit_and_the_worker_replaced(
    run, script_pool, brand_factory
):
    brand = brand_factory(script_timeout_ms=400)
    pids_before = set(script_pool.worker_pids())
    result = run("cache.set('before', 1); console.log('looping'); setVariable('v', 1); while (true) {}",
                 brand=brand)
    assert result["ok"] is False
    assert result["error"] == {
        "name": "TimeoutError", "message": "Script exceeded the time limit of 400 ms", "line": None
    }
    assert result["duration_ms"] >= 400
    # What happened before the timeout is still reported, and the write stays written.
    assert result["logs"] == [{"level": "log", "message": "looping"}]
    assert result["variables"] == {"v": 1}
    assert result["ops"] == 1
    assert BrandCache.for_brand(brand).get("before") == 1
    assert script_pool.wait_ready(30)  # the replacement is forked in the background
    pids_after = set(script_pool.worker_pids())
    assert len(pids_after) == script_pool.processes
    assert len(pids_before - pids_after) == 1  # exactly the overrunning worker was replaced
    # The next executions run normally (on the surviving worker and on the replacement).
    for _ in range(script_pool.size + 1):
        assert value(run("cache.increment('after')", brand=brand)) >= 1


def test_a_loop_in_promise_jobs_is_stopped_too(run, brand_factory):
    brand = brand_factory(script_timeout_ms=300)
    result = run("(function spin() { Promise.resolve().then(spin); })(); 1", brand=brand)
    assert result["error"]["name"] == "TimeoutError"
    assert value(run("2", brand=brand)) == 2


def test_other_executions_are_not_disturbed_by_a_slow_one(run, script_pool, brand_factory):
    if script_pool.size < 2:
        pytest.skip("needs two workers")
    slow_brand = brand_factory(script_timeout_ms=3000)
    slow: dict = {}
    thread = threading.Thread(target=lambda: slow.update(run("while (true) {}", brand=slow_brand)))
    thread.start()
    try:
        quick = [run(f"cache.increment('n'); {i}") for i in range(5)]
    finally:
        thread.join()
    assert [value(result) for result in quick] == [0, 1, 2, 3, 4]
    assert slow["error"]["name"] == "TimeoutError"


# ---------------------------------------------------------------- memory and stack


@pytest.mark.parametrize(
    "bomb",
    [
        "var a = []; while (true) a.push('xxxxxxxxxxxxxxxxxxxx' + a.length);",
        "(function () { var a = []; while (true) a.push({i: a.length}); })();",
        "var s = 'x'; while (true) s = s + s;",
        "new Array(1e8).fill(1);",
        "new ArrayBuffer(1e9);",
    ],
)
def test_allocation_bombs_stop_with_out_of_memory(run, bomb):
    result = run(bomb)
    assert result["ok"] is False
    assert result["error"]["name"] == "InternalError"
    assert result["error"]["message"].startswith("out of memory")
    assert "32 MiB" in result["error"]["message"]
    assert value(run("[1, 2, 3].length")) == 3


def test_memory_limit_comes_from_the_brand_quota(run, brand_factory):
    brand = brand_factory(script_memory_mb=4)
    # 1.5 million numbers (about 12 MB as doubles) fit in 32 MiB but not in 4.
    code = "var a = new Float64Array(1500000); a.length"
    assert run(code, brand=brand)["error"]["message"].startswith("out of memory")
    assert value(run(code)) == 1500000


def test_a_script_that_throws_null_is_not_mistaken_for_out_of_memory(run):
    result = run("throw null")
    assert result["error"] == {"name": "Error", "message": "null", "line": None}


def test_deep_recursion_is_a_stack_overflow_error(run, script_pool):
    pids = script_pool.worker_pids()
    result = run("function f(n) { return f(n + 1) + 1; }\nf(0)")
    assert result["ok"] is False
    assert result["error"]["name"] == "InternalError"
    assert "stack overflow" in result["error"]["message"]
    assert script_pool.worker_pids() == pids  # the worker survived
    assert value(run("function g(n) { return n ? g(n - 1) + 1 : 0 } g(1000)")) == 1000


# ---------------------------------------------------------------- output bounds


def test_a_log_flood_is_truncated_with_a_warning(run):
    result = run("for (var i = 0; i < 100000; i++) console.log('line', i); 'finished'")
    assert value(result) == "finished"
    assert len(result["logs"]) == limits.MAX_LOG_ENTRIES
    assert result["logs"][-1] == {"level": "log", "message": f"line {limits.MAX_LOG_ENTRIES - 1}"}
    assert any("Output truncated" in warning for warning in result["warnings"])


def test_logs_and_variables_share_a_64_kib_budget(run):
    result = run(
        """
        var chunk = 'x'.repeat(10000);
        for (var i = 0; i < 4; i++) console.log(chunk);
        for (var j = 0; j < 10; j++) setVariable('v' + j, chunk);
        setVariable('v0', 'small');           // replacing frees the old value's share
        setVariable('huge', 'y'.repeat(70000));
        'ok'
        """
    )
    assert value(result) == "ok"
    total = sum(len(entry["message"]) for entry in result["logs"]) + sum(
        len(name) + len(str(v)) + 2 for name, v in result["variables"].items()
    )
    assert total <= limits.MAX_OUTPUT_BYTES
    assert len(result["logs"]) == 4
    assert result["variables"]["v0"] == "small"
    assert "huge" not in result["variables"]
    assert any("Output truncated" in warning for warning in result["warnings"])


def test_a_huge_result_is_reported_as_null_with_a_warning(run):
    result = run("'z'.repeat(100000)")
    assert result["ok"] is True and result["result"] is None
    assert any("result" in warning for warning in result["warnings"])


# ---------------------------------------------------------------- overwriting the environment


def test_overwriting_cache_json_and_prototypes_lifts_no_limit(run, brand):
    result = run(
        """
        var realCache = cache;
        JSON.stringify = function () { return '"' + 'x'.repeat(2000) + '"'; };
        JSON.parse = function () { return [0, 'forged']; };
        Object.defineProperty(Array.prototype, '0', {get: function () { return 0; }, configurable: true});
        Object.defineProperty(Object.prototype, '1',
                              {get: function () { return 'forged'; }, configurable: true});
        Object.prototype.toJSON = undefined;
        Function.prototype.call = function () { return 'hijacked'; };
        Function.prototype.apply = function () { return 'hijacked'; };
        Error = function () {}; TypeError = function () {};
        cache = {get: function () { return 'fake'; }};
        var stored = realCache.set('small', 'abc');
        var oversize = realCache.set('big', 'x'.repeat(600));
        var calls = 2, refused = null;
        for (var i = 0; i < 30; i++) {
          try { realCache.increment('n'); calls++; } catch (e) { refused = e.message; break; }
        }
        [stored, oversize, calls, refused, cache.get('small')]
        """
    )
    stored, oversize, calls, refused, fake = value(result)
    assert stored is True and oversize is False
    assert calls == 20 and "limit of 20 cache operations" in refused
    assert fake == "fake"  # the script only replaced its own global
    assert result["ops"] == 20
    cache = BrandCache.for_brand(brand)
    assert cache.get_json("small") == '"abc"'  # the real JSON.stringify, captured before the script ran
    assert cache.has("big") is False
    assert cache.get("n") == 18


def test_redefining_cache_methods_or_deleting_globals_does_not_reset_the_budget(run):
    result = run(
        """
        var get = cache.get, n = 0;
        for (var i = 0; i < 15; i++) get('a');
        delete globalThis.cache;
        globalThis.cache = {};
        var again = Object.getOwnPropertyNames(globalThis).filter(function (k) { return /ca/.test(k); });
        try { for (var j = 0; j < 10; j++) { get('a'); n++; } } catch (e) {}
        [n, again]
        """
    )
    n, names = value(result)
    assert n == 5
    assert result["ops"] == 20
    assert not any(name.startswith("__ca") for name in names)


def test_object_prototype_setters_do_not_break_host_replies(run):
    result = run(
        """
        Object.defineProperty(Object.prototype, 'ok', {set: function () { throw new Error('x'); }});
        Array.prototype.push = function () { throw new Error('push'); };
        cache.set('k', {a: 1});
        cache.get('k')
        """
    )
    assert value(result) == {"a": 1}


# ---------------------------------------------------------------- brand isolation


def test_a_script_reads_and_writes_only_its_own_brand(run, brand_factory):
    mine = brand_factory()
    other = brand_factory()
    prefix = BrandKeys.for_brand(other.pk).value_prefix  # e.g. "test-xxxx:{7}:v:"
    other_cache = BrandCache.for_brand(other)
    other_cache.set("x", "other's secret")
    plain_prefix = prefix.replace("{", "").replace("}", "")  # "test-xxxx:7:v:" is a valid key
    other_cache.set(f"{plain_prefix}x", "other's too")
    other_cache.set(f"{other.pk}:v:x", "other's three")

    invalid = [f"{{{other.pk}}}:v:x", f"ca:{{{other.pk}}}:v:x", f"{prefix}x", f"../{other.pk}/x"]
    valid_looking = [f"{other.pk}:v:x", f"ca:{other.pk}:v:x", f"{plain_prefix}x", "x"]
    result = run(
        "var out = {invalid: [], valid: []};\n"
        f"for (const k of {invalid!r}) {{ try {{ cache.get(k); out.invalid.push('read'); }}"
        " catch (e) { out.invalid.push(e.name); } }\n"
        f"for (const k of {valid_looking!r}) out.valid.push(cache.get(k));\n"
        "cache.set('x', 'mine'); out",
        brand=mine,
    )
    outcome = value(result)
    assert outcome["invalid"] == ["TypeError"] * len(invalid)
    assert outcome["valid"] == [None] * len(valid_looking)
    assert other_cache.get("x") == "other's secret"
    assert BrandCache.for_brand(mine).get("x") == "mine"
    assert other_cache.live_count() == 3


# ---------------------------------------------------------------- no host access

STANDARD_GLOBALS = {
    "Object", "Function", "Error", "EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError",
    "URIError", "InternalError", "AggregateError", "Array", "parseInt", "parseFloat", "isNaN", "isFinite",
    "decodeURI", "decodeURIComponent", "encodeURI", "encodeURIComponent", "escape", "unescape", "Infinity",
    "NaN", "undefined", "Number", "Boolean", "String", "Math", "Reflect", "Symbol", "eval", "globalThis",
    "Date", "RegExp", "JSON", "Proxy", "Map", "Set", "WeakMap", "WeakSet", "ArrayBuffer",
    "SharedArrayBuffer", "Uint8ClampedArray", "Int8Array", "Uint8Array", "Int16Array", "Uint16Array",
    "Int32Array", "Uint32Array", "BigInt64Array", "BigUint64Array", "Float32Array", "Float64Array",
    "DataView", "Atomics", "Promise", "BigInt", "WeakRef", "FinalizationRegistry", "Iterator",
}


def test_only_standard_globals_and_the_script_api_exist(run):
    names = set(value(run("Object.getOwnPropertyNames(globalThis)")))
    assert names - STANDARD_GLOBALS == {"cache", "setVariable", "redirect", "console"}


@pytest.mark.parametrize(
    "expression",
    ["typeof std", "typeof os", "typeof require", "typeof module", "typeof process", "typeof print",
     "typeof setTimeout", "typeof setInterval", "typeof fetch", "typeof XMLHttpRequest", "typeof scriptArgs",
     "typeof __ca_cache", "typeof __date_clock", "typeof __loadScript"],
)
def test_no_host_objects(run, expression):
    assert value(run(expression)) == "undefined"


def test_no_modules(run):
    result = run(
        "import('os').then(function () { setVariable('os', 'loaded'); },"
        "                  function (e) { setVariable('os', e.name); });"
        "import('std').then(function () { setVariable('std', 'loaded'); },"
        "                   function (e) { setVariable('std', e.name); });"
    )
    assert result["ok"] is True
    assert result["variables"] == {"os": "ReferenceError", "std": "ReferenceError"}
    static_import = run("import * as os from 'os';")
    assert static_import["ok"] is False and static_import["error"]["name"] == "SyntaxError"


def test_eval_and_function_constructor_see_only_the_sandbox(run):
    assert value(run("[eval('typeof std'), Function('return typeof os')(), (0, eval)('1 + 1')]")) == [
        "undefined", "undefined", 2
    ]
