"""The eight findings of issue 10 and the contract's extra bugs, each with the issue's own example
(docs/contract.md has the rules). Differential checks against Node.js are in test_node_agreement."""

from __future__ import annotations

import json

import pytest

from brands.cache import BrandCache, CacheValueError
from brands.scripting import ScriptPool, build_job, limits
from tests.support.scripts import value

# ---------------------------------------------------------------- 1. numbers from 2**64 to 1e21


@pytest.mark.parametrize("number", [5.416794663700675e20, 1.8446744073709552e19, 9.999999999999999e20,
                                    -7.205759403792354e20, 1.2345678901234567e20])
def test_get_returns_the_number_that_was_stored(run, number):
    literal = repr(number)
    result = run(f"cache.set('b', {literal}); [cache.get('b') === {literal}, cache.get('b'), "
                 f"cache.get('b') - {literal}]")
    same, got, difference = value(result)
    assert same is True and difference == 0
    assert float(got) == number


def test_a_big_integer_inside_a_stored_structure_reads_back_exactly(run):
    result = run("cache.set('o', {a: [5.416794663700675e+20], s: '541679466370067500000'});"
                 " var o = cache.get('o'); [o.a[0] === 5.416794663700675e+20, o.s]")
    assert value(result) == [True, "541679466370067500000"]


# ---------------------------------------------------------------- 2. lone surrogates given to the host


def test_a_lone_surrogate_key_is_a_counted_type_error_and_later_calls_work(run):
    result = run("var x, y; var k='user:\\ud83d\\ude00'.slice(0,6); try{cache.set(k,1)}catch(e){x=e.name}"
                 " y=cache.set('after',1); [x, y]")
    assert value(result) == ["TypeError", True]
    assert result["ops"] == 2  # the failing call is counted


def test_get_of_a_lone_surrogate_is_caught_and_the_run_goes_on(run):
    result = run("try{cache.get('\\ud800')}catch(e){} cache.increment('n')")
    assert value(result) == 1 and result["ops"] == 2


def test_lone_surrogates_reach_every_output_intact(run):
    result = run("console.log('l\\ud800'); setVariable('v\\udc00', 'x\\ud83d'); redirect('/r\\udfff');"
                 " throw new Error('boom \\ud800')")
    assert result["logs"] == [{"level": "log", "message": "l\ud800"}]
    assert result["variables"] == {"v\udc00": "x\ud83d"}
    assert result["redirect"] == "/r\udfff"
    assert result["error"]["message"] == "boom \ud800"


# ---------------------------------------------------------------- 3. lone surrogates in what comes back


def test_values_variables_and_the_result_keep_lone_surrogates(run, brand):
    result = run("cache.set('s', 'a\\ud800b'); setVariable('v', cache.get('s'));"
                 " [cache.get('s'), 'c\\udfff']")
    assert value(result) == ["a\ud800b", "c\udfff"]
    assert result["variables"] == {"v": "a\ud800b"}
    assert BrandCache.for_brand(brand).get("s") == "a\ud800b"


# ---------------------------------------------------------------- 4. NUL characters


def test_nul_does_not_cut_redirects_logs_or_variable_names(run):
    result = run("redirect('/a\\u0000b'); console.log('x\\u0000y'); setVariable('n\\u0000m', 1); 'z\\u0000'")
    assert value(result) == "z\x00"
    assert result["redirect"] == "/a\x00b"
    assert result["logs"] == [{"level": "log", "message": "x\x00y"}]
    assert result["variables"] == {"n\x00m": 1}


# ---------------------------------------------------------------- 5. setVariable names and redirect bounds


def test_a_variable_name_is_measured_as_javascript_measures_it(run):
    result = run("setVariable('😀', 1); setVariable('😀'.repeat(100), 2);"
                 " setVariable('😀'.repeat(100) + 'x', 3); setVariable('a'.repeat(200), 4);"
                 " setVariable('a'.repeat(201), 5); 'still running'")
    assert value(result) == "still running"
    assert result["variables"] == {"😀": 1, "😀" * 100: 2, "a" * 200: 4}
    assert result["warnings"] == [
        f"setVariable: names longer than {limits.MAX_VARIABLE_NAME_CHARS} characters are dropped"
    ]


def test_a_redirect_over_the_bound_is_dropped_with_a_warning(run):
    result = run("redirect('/kept'); redirect('/' + 'x'.repeat(2048)); 'still running'")
    assert value(result) == "still running"
    assert result["redirect"] == "/kept"
    bound = limits.MAX_REDIRECT_CHARS
    assert result["warnings"] == [f"redirect: URLs longer than {bound} characters are dropped"]
    assert run("redirect('/' + 'x'.repeat(2047))")["redirect"] == "/" + "x" * 2047


# ---------------------------------------------------------------- 6. subnormal increments


def test_a_subnormal_increment_is_stored_in_its_shortest_text(run, brand_factory):
    brand = brand_factory(max_value_bytes=6)
    result = run("cache.increment('k', 5e-324)", brand=brand)
    assert value(result) == 5e-324
    assert BrandCache.for_brand(brand).get_json("k") == "5e-324"


# ---------------------------------------------------------------- 7. out of memory, caught


CATCHING_OOM = """
var grown = [];
try {
  while (true) grown.push('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' + grown.length);
} catch (e) {
  grown = null;
}
cache.set('after', 1);
setVariable('after', true);
console.log('after');
'finished'
"""

AFTER = "\ncache.set('after', 1);\nsetVariable('after', true);\nconsole.log('after');\n'finished'"

# Ways to run out of memory: many small allocations (the engine's periodic check stops the
# script), few big ones in a tight loop (the engine's own cap is hit first, the error is caught
# and what was held is dropped), doubling a string, objects, a sparse-to-dense array.
GROWTH = [
    CATCHING_OOM,
    "var a = []; try { while (true) a.push('x'.repeat(100000) + a.length); } catch (e) { a = null; }" + AFTER,
    "var s = 'x'; try { while (true) s = s + s; } catch (e) { s = null; }" + AFTER,
    "var o = {}; try { for (var i = 0; ; i++) o['k' + i] = {i: i}; } catch (e) { o = null; }" + AFTER,
    "var a = []; try { while (true) a.push(new Array(1000).fill(1)); } catch (e) { a = null; }" + AFTER,
]


GROWTH_IDS = ["small-strings", "big-strings", "doubling", "objects", "arrays"]


@pytest.mark.parametrize("code", GROWTH, ids=GROWTH_IDS)
def test_a_script_that_catches_its_out_of_memory_error_still_fails_and_writes_nothing_after(run, brand, code):
    result = run("cache.set('before', 1);\n" + code)
    assert result["ok"] is False
    assert result["error"]["name"] == "InternalError"
    assert result["error"]["message"] == "out of memory: the script exceeded the memory limit of 32 MiB"
    assert result["result"] is None and result["variables"] == {} and result["logs"] == []
    cache = BrandCache.for_brand(brand)
    assert cache.get("before") == 1 and cache.has("after") is False
    assert value(run("[1, 2, 3].length")) == 3  # the worker carries on


def test_out_of_memory_in_promise_jobs_is_out_of_memory_too(run, brand):
    result = run("Promise.resolve().then(function () {\n" + CATCHING_OOM + "\n}); 1")
    assert result["ok"] is False and result["error"]["message"].startswith("out of memory")
    assert BrandCache.for_brand(brand).has("after") is False


# ---------------------------------------------------------------- 8. sizes before parsing


REPEATED_REFERENCES = """
var empty = [], row = [], big = [];
for (var i = 0; i < 1000; i++) row.push(empty);
for (var j = 0; j < 1500; j++) big.push(row);   // ~4.5 MB of JSON, ~100 MB once parsed in Python
var stored = cache.set('big', big);
setVariable('big', big);
big
"""


def _peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_values_are_refused_for_their_size_before_anything_parses_them(brand_factory):
    """The worker's peak memory stays near the size of the JSON text (issue: parsing it first
    took a worker from 52 MB to 174 MB)."""
    brand = brand_factory()
    pool = ScriptPool(1, spare=0)
    try:
        assert pool.wait_ready()
        job = build_job(brand_id=brand.pk, quota=brand.quota, code="cache.set('warm', 1); 1")
        assert pool.execute(job, timeout_ms=10_000)["ok"]
        [pid] = pool.worker_pids()
        before = _peak_rss_kib(pid)
        job = build_job(brand_id=brand.pk, quota=brand.quota, code=REPEATED_REFERENCES)
        result = pool.execute(job, timeout_ms=30_000)
        grown_mib = (_peak_rss_kib(pid) - before) / 1024
    finally:
        pool.close()
    assert result["ok"] is True and result["result"] is None and result["variables"] == {}
    assert any("above the limit of 512 bytes" in w for w in result["warnings"])
    assert any("Output truncated" in w for w in result["warnings"])
    assert any("larger than 64 KiB" in w for w in result["warnings"])
    # The text is held a few times over (QuickJS, the request, its value): tens of MB at most.
    assert grown_mib < 60, f"the worker grew by {grown_mib:.0f} MiB"


# ---------------------------------------------------------------- the contract's extra bugs


def test_an_unhandled_rejection_fails_the_run(run, brand):
    result = run("cache.set('before', 1);\n(async () => { throw new Error('x') })(); 1")
    assert result["ok"] is False and result["result"] is None
    assert result["error"] == {"name": "Error", "message": "x", "line": None}
    assert "A promise was rejected and nothing handled the rejection" in result["warnings"]
    assert BrandCache.for_brand(brand).get("before") == 1


def test_an_unhandled_rejection_reports_its_line(run):
    result = run("async function f() {\n  await null;\n  throw new TypeError('deep');\n}\nf();\n'done'")
    assert result["error"] == {"name": "TypeError", "message": "deep", "line": 3}


@pytest.mark.parametrize("code", [
    "var p = Promise.reject(new Error('late')); p.catch(function () {}); 1",
    "var p = Promise.reject(1); Promise.resolve().then(function () { p.then(null, function () {}); }); 1",
    "(async () => { try { await Promise.reject(new Error('x')); } catch (e) {} })(); 1",
])
def test_a_rejection_handled_before_the_jobs_end_is_fine(run, code):
    assert value(run(code)) == 1


def test_the_line_is_null_when_quickjs_gives_none(run):
    result = run("function f(){ throw new Error('x') }\nf()")
    assert result["error"] == {"name": "Error", "message": "x", "line": None}
    # With a line in the function's own frame, that line.
    assert run("function g() {\n  throw new Error('y');\n}\ng()")["error"]["line"] == 2


def test_the_result_bound_counts_utf8_bytes(run):
    chars = limits.MAX_RESULT_BYTES // 2 + 10  # fewer characters than the bound, more bytes
    result = run(f"'é'.repeat({chars})")
    assert result["ok"] is True and result["result"] is None
    assert any("larger than 64 KiB" in w for w in result["warnings"])
    assert value(run(f"'e'.repeat({chars})")) == "e" * chars


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "[NaN]", '{"a": Infinity}'])
def test_set_json_refuses_non_json_constants(cache, text):
    with pytest.raises(CacheValueError):
        cache.set_json("k", text)
    assert cache.has("k") is False


def test_recording_a_run_keeps_nul_and_lone_surrogates_as_escapes(brand):
    from brands.scripting.history import script_run_record

    result = {"ok": True, "result": "a\x00\ud800", "variables": {"v\ud800": "\x00"}, "redirect": None,
              "logs": [{"level": "log", "message": "x\x00"}], "ops": 0, "ops_limit": 20, "duration_ms": 1.0,
              "error": None, "warnings": []}
    run = script_run_record(brand=brand, user=None, code="'a\x00\ud800'", result=result)
    run.refresh_from_db()
    assert run.result["result"] == "a\\u0000\\ud800"
    assert run.result["variables"] == {"v\\ud800": "\\u0000"}
    assert run.code == "'a\\u0000\\ud800'"
    json.dumps(run.result).encode("utf-8")  # storable and printable as UTF-8



def test_an_allocation_refused_outright_is_a_catchable_error(run):
    """One operation asking for more than twice the limit is refused at once (nothing was
    allocated, the memory never went over the limit): the script may catch that and go on."""
    result = run("var caught; try { new ArrayBuffer(1e9); } catch (e) { caught = e.name; } [caught, 1 + 1]")
    assert value(result) == ["InternalError", 2]


def test_a_script_using_most_of_its_memory_is_not_stopped(run):
    code = ("var a = []; for (var i = 0; i < 200000; i++) a.push({i: i}); a = null;"
            " var keep = 'x'.repeat(20 * 1024 * 1024); keep.length")
    assert value(run(code)) == 20 * 1024 * 1024
