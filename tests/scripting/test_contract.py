"""The script rules of docs/contract.md, through real worker processes, real QuickJS and real Redis."""

from __future__ import annotations

import pytest

from brands.cache import BrandCache
from brands.scripting import ScriptPool, run_script
from tests.support.scripts import value

# ---------------------------------------------------------------- the six methods


def test_six_methods_and_their_return_values(run, brand):
    result = run(
        """
        var r = {};
        r.missing = cache.get('k');
        r.set = cache.set('k', {a: 1});
        r.get = cache.get('k');
        r.has = cache.has('k');
        r.hasMissing = cache.has('nope');
        r.del = cache.del('k');
        r.delMissing = cache.del('k');
        r.hasAfterDel = cache.has('k');
        r.sia1 = cache.setIfAbsent('once', 1);
        r.sia2 = cache.setIfAbsent('once', 2);
        r.once = cache.get('once');
        r.inc1 = cache.increment('n');
        r.inc5 = cache.increment('n', 4);
        r.neg = cache.increment('n', -10);
        r.created = cache.increment('fresh', 2.5);
        r
        """
    )
    assert value(result) == {
        "missing": None, "set": True, "get": {"a": 1}, "has": True, "hasMissing": False,
        "del": True, "delMissing": True, "hasAfterDel": False, "sia1": True, "sia2": False,
        "once": 1, "inc1": 1, "inc5": 5, "neg": -5, "created": 2.5,
    }
    assert result["ops"] == 15
    assert result["ops_limit"] == 20
    assert BrandCache.for_brand(brand).get("n") == -5


def test_stored_null_is_read_as_null_and_has_tells_it_apart(run):
    assert value(run("cache.set('z', null); [cache.get('z'), cache.has('z'), cache.get('none')]")) == [
        None, True, None
    ]


def test_values_are_stored_exactly_as_json_stringify_text(run, brand):
    run(
        """
        cache.set('obj', {n: NaN, inf: -Infinity, d: new Date(0), u: undefined, f: function () {},
                          s: 'caf\u00e9 \\u2603', nested: [1, undefined, 'x']});
        cache.set('date', new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)));
        cache.set('num', 1e21);
        cache.set('neg0', -0);
        """
    )
    stored = BrandCache.for_brand(brand)
    assert stored.get_json("obj") == (
        '{"n":null,"inf":null,"d":"1970-01-01T00:00:00.000Z","s":"caf\u00e9 \u2603","nested":[1,null,"x"]}'
    )
    assert stored.get_json("date") == '"2024-01-02T03:04:05.006Z"'
    assert stored.get_json("num") == "1e+21"
    assert stored.get_json("neg0") == "0"


def test_a_value_round_trips_through_get(run):
    assert value(run("cache.set('v', {a: [1, 'two', true, null], b: {c: 1.5}}); cache.get('v')")) == {
        "a": [1, "two", True, None], "b": {"c": 1.5}
    }


# ---------------------------------------------------------------- keys

BAD_KEYS = [
    "''", "'a b'", "'x'.repeat(201)", "'a\\n'", "'key\\n'", "'{1}:v:x'", "'caf\u00e9'", "'a/b'", "'a*'",
    "'a\\u0000'", "5", "1.5", "true", "null", "undefined", "({})", "['a']", "Symbol('k')", "10n",
    "(function () {})",
]
METHOD_CALLS = {
    "get": "cache.get(KEY)",
    "set": "cache.set(KEY, 1)",
    "del": "cache.del(KEY)",
    "has": "cache.has(KEY)",
    "setIfAbsent": "cache.setIfAbsent(KEY, 1)",
    "increment": "cache.increment(KEY)",
}


@pytest.mark.parametrize("method", list(METHOD_CALLS))
def test_invalid_keys_throw_type_error_naming_the_rule(run, brand, method):
    checks = ",\n".join(
        f"(function () {{ try {{ {METHOD_CALLS[method].replace('KEY', key)}; return 'no error'; }} "
        f"catch (e) {{ return [e instanceof TypeError, e.name, e.message]; }} }})()"
        for key in BAD_KEYS
    )
    result = run(f"[{checks}]")
    outcomes = value(result)
    for key, outcome in zip(BAD_KEYS, outcomes, strict=True):
        assert outcome != "no error", key
        is_type_error, name, message = outcome
        assert is_type_error and name == "TypeError", (key, outcome)
        assert "1 to 200 characters" in message, (key, message)
    assert "'a b'" in outcomes[1][2]  # the message names the offending key
    assert result["ops"] == 20  # refused calls count too (20 of the 20 bad keys)
    assert BrandCache.for_brand(brand).live_count() == 0


def test_the_longest_valid_key_and_every_allowed_character(run):
    assert value(run("var k = 'aZ09_.:-' + 'x'.repeat(192); [k.length, cache.set(k, 1), cache.get(k)]")) == [
        200, True, 1
    ]


# ---------------------------------------------------------------- TTL


@pytest.mark.parametrize(
    "ttl", ["0", "-1", "NaN", "Infinity", "-Infinity", "'10'", "true", "10n", "({})", "[5]"]
)
def test_bad_ttls_throw_type_error_and_write_nothing(run, brand, ttl):
    result = run(
        f"""
        var out = [];
        for (const call of [() => cache.set('t', 1, {ttl}), () => cache.setIfAbsent('t', 1, {ttl}),
                            () => cache.increment('t', 1, {ttl})]) {{
          try {{ call(); out.push('no error'); }} catch (e) {{ out.push(e instanceof TypeError); }}
        }}
        out
        """
    )
    assert value(result) == [True, True, True]
    assert BrandCache.for_brand(brand).has("t") is False


def test_ttl_and_amount_errors_name_the_value_as_javascript_prints_it(run):
    result = run(
        "var out = [];"
        "for (const call of [() => cache.set('t', 1, NaN), () => cache.set('t', 1, 0),"
        "                    () => cache.set('t', 1, -Infinity), () => cache.increment('t', NaN),"
        "                    () => cache.increment('t', 1, -2.5)]) {"
        "  try { call(); } catch (e) { out.push(e.message); }"
        "}"
        "out"
    )
    messages = value(result)
    assert [message.split(":")[0] for message in messages] == [
        "Invalid TTL NaN", "Invalid TTL 0", "Invalid TTL -Infinity", "Invalid increment amount NaN",
        "Invalid TTL -2.5",
    ]


def test_ttl_defaults_fractions_and_clamping(run, brand_factory):
    brand = brand_factory(default_ttl=100, max_ttl=600)
    result = run(
        "[cache.set('d', 1), cache.set('u', 1, undefined), cache.set('n', 1, null), cache.set('f', 1, 0.2),"
        " cache.set('c', 1, 99999), cache.setIfAbsent('s', 1)]",
        brand=brand,
    )
    assert value(result) == [True] * 6
    stored = BrandCache.for_brand(brand)
    for key in ("d", "u", "n", "s"):
        assert 95 < stored.key_info(key).ttl_seconds <= 100
    assert 0 < stored.key_info("f").ttl_seconds <= 1
    assert 590 < stored.key_info("c").ttl_seconds <= 600
    assert any("'c'" in warning and "600" in warning for warning in result["warnings"])


def test_increment_ttl_sets_or_keeps(run, brand_factory):
    brand = brand_factory(default_ttl=100, max_ttl=3600)
    run(
        "cache.set('keep', 1, 50); cache.increment('keep'); cache.increment('new');"
        " cache.increment('given', 1, 2000)",
        brand=brand,
    )
    stored = BrandCache.for_brand(brand)
    assert stored.key_info("keep").ttl_seconds <= 50
    assert 95 < stored.key_info("new").ttl_seconds <= 100
    assert 1990 < stored.key_info("given").ttl_seconds <= 2000


# ---------------------------------------------------------------- values


@pytest.mark.parametrize(
    "expression",
    ["undefined", "function () {}", "Symbol('s')", "10n",
     "(function () { var o = {}; o.self = o; return o; })()",
     "{toJSON: function () { throw new Error('no'); }}"],
)
def test_unserialisable_values_throw_type_error_and_write_nothing(run, brand, expression):
    result = run(
        f"""
        var out = [];
        for (const call of [v => cache.set('k', v), v => cache.setIfAbsent('k', v)]) {{
          try {{ call({expression}); out.push('no error'); }} catch (e) {{ out.push([e.name, e.message]); }}
        }}
        out
        """
    )
    outcomes = value(result)
    assert [name for name, _ in outcomes] == ["TypeError", "TypeError"]
    assert all("'k'" in message for _, message in outcomes)
    assert result["ops"] == 2
    assert BrandCache.for_brand(brand).has("k") is False


def test_oversize_value_returns_false_with_a_warning_and_keeps_the_old_value(run, brand):
    result = run(
        "[cache.set('big', 'old'), cache.set('big', 'x'.repeat(600)),"
        " cache.setIfAbsent('other', 'x'.repeat(600)), cache.set('edge', 'y'.repeat(510)), cache.get('big')]"
    )
    assert value(result) == [True, False, False, True, "old"]  # 510 chars + 2 quotes = 512 bytes
    assert any("'big'" in warning and "602 bytes" in warning for warning in result["warnings"])
    assert BrandCache.for_brand(brand).has("other") is False


def test_value_size_counts_utf8_bytes(run, brand_factory):
    brand = brand_factory(max_value_bytes=10)
    # "éééé" is 4 characters but 8 bytes; with quotes 10 bytes (fits); one more é does not.
    code = "[cache.set('a', '\u00e9\u00e9\u00e9\u00e9'), cache.set('b', '\u00e9\u00e9\u00e9\u00e9\u00e9')]"
    assert value(run(code, brand=brand)) == [True, False]


# ---------------------------------------------------------------- increment


def test_increment_uses_javascript_arithmetic(run, brand):
    result = run("cache.increment('f', 0.1); [cache.increment('f', 0.2), 0.1 + 0.2]")
    assert value(result) == [0.30000000000000004, 0.30000000000000004]
    assert BrandCache.for_brand(brand).get_json("f") == "0.30000000000000004"
    run("cache.set('i', 5); cache.increment('i', 1)")
    assert BrandCache.for_brand(brand).get_json("i") == "6"


@pytest.mark.parametrize(
    ("stored", "text"),
    [("'5'", '"5"'), ("true", "true"), ("null", "null"), ("[1]", "[1]"), ("({a: 1})", '{"a":1}')],
)
def test_increment_on_a_non_number_throws_type_error_naming_the_key(run, brand, stored, text):
    result = run(f"cache.set('s', {stored}); try {{ cache.increment('s', 1); 'no error' }} "
                 "catch (e) { [e.name, e.message] }")
    name, message = value(result)
    assert name == "TypeError" and "'s'" in message
    assert BrandCache.for_brand(brand).get_json("s") == text  # nothing changed


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "'1'", "null", "10n", "true", "({})"])
def test_increment_amount_must_be_a_finite_number(run, brand, amount):
    result = run(
        f"try {{ cache.increment('a', {amount}); 'no error' }} catch (e) {{ e instanceof TypeError }}"
    )
    assert value(result) is True
    assert BrandCache.for_brand(brand).has("a") is False


# ---------------------------------------------------------------- operation budget


def test_the_21st_call_throws_a_catchable_error_and_does_nothing(run, brand):
    result = run(
        """
        for (var i = 0; i < 20; i++) cache.get('k' + i);
        var caught;
        try { cache.set('after', 1); }
        catch (e) { caught = [e instanceof Error, e instanceof TypeError, e.message]; }
        caught
        """
    )
    is_error, is_type_error, message = value(result)
    assert is_error and not is_type_error
    assert "limit of 20 cache operations per execution" in message
    assert result["ops"] == 20
    assert BrandCache.for_brand(brand).has("after") is False
    assert any("limit of 20" in warning for warning in result["warnings"])


def test_calls_that_throw_count_against_the_budget(run, brand):
    result = run(
        """
        for (var i = 0; i < 20; i++) { try { cache.set('bad key', 1); } catch (e) {} }
        cache.set('good', 1)
        """
    )
    assert result["ok"] is False
    assert result["error"]["name"] == "Error" and "limit of 20" in result["error"]["message"]
    assert result["ops"] == 20
    assert BrandCache.for_brand(brand).has("good") is False


def test_the_budget_comes_from_the_brand_quota(run, brand_factory):
    brand = brand_factory(max_ops_per_execution=3)
    result = run("cache.get('a'); cache.get('b'); cache.get('c'); cache.get('d')", brand=brand)
    assert result["ok"] is False and "limit of 3 cache operations" in result["error"]["message"]
    assert (result["ops"], result["ops_limit"]) == (3, 3)


def test_an_uncaught_budget_error_reports_its_line(run):
    result = run("for (var i = 0; i < 20; i++) cache.has('x');\n\ncache.has('x');")
    assert result["error"]["line"] == 3


# ---------------------------------------------------------------- key limit


def test_key_limit_refuses_new_keys_but_allows_overwrites(run, brand_factory):
    brand = brand_factory(max_keys=2)
    result = run(
        "[cache.set('a', 1), cache.set('b', 1), cache.set('c', 1), cache.setIfAbsent('d', 1),"
        " cache.increment('e'), cache.set('a', 2), cache.increment('b'), cache.del('a'), cache.set('c', 1)]",
        brand=brand,
    )
    assert value(result) == [True, True, False, False, None, True, 2, True, True]
    assert any("key limit" in warning for warning in result["warnings"])


# ---------------------------------------------------------------- other globals


def test_set_variable_redirect_and_console_are_captured(run):
    result = run(
        """
        setVariable('views', 7);
        setVariable('views', 8);
        setVariable('user', {name: 'ann', tags: ['a']});
        redirect('/first');
        console.log('hello', 42, {a: 1}, [1, 2], null, undefined, true);
        console.info('info');
        console.warn('warn');
        console.error(new TypeError('bad'));
        redirect('/dashboard');
        'done'
        """
    )
    assert value(result) == "done"
    assert result["variables"] == {"views": 8, "user": {"name": "ann", "tags": ["a"]}}
    assert result["redirect"] == "/dashboard"
    assert result["logs"] == [
        {"level": "log", "message": 'hello 42 {"a":1} [1,2] null undefined true'},
        {"level": "info", "message": "info"},
        {"level": "warn", "message": "warn"},
        {"level": "error", "message": "TypeError: bad"},
    ]
    assert result["ops"] == 0


@pytest.mark.parametrize(
    "call",
    ["setVariable('', 1)", "setVariable(5, 1)", "setVariable('x', undefined)", "setVariable('x', 10n)",
     "setVariable('a\\u0000b', 1)", "redirect(5)", "redirect(undefined)"],
)
def test_bad_set_variable_and_redirect_calls_throw_type_error(run, call):
    assert value(run(f"try {{ {call}; 'no error' }} catch (e) {{ e.name }}")) == "TypeError"


def test_the_script_keeps_running_after_redirect(run):
    result = run("redirect('/a'); setVariable('after', true); 1")
    assert result["redirect"] == "/a" and result["variables"] == {"after": True}


# ---------------------------------------------------------------- completion value and errors


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("1 + 1", 2),
        ("var a = 1; a + 1; 'last'", "last"),
        ("({a: [1, 2]})", {"a": [1, 2]}),
        ("let x = 3; x * 2", 6),
        ("if (true) { 'yes' } else { 'no' }", "yes"),
        ("undefined", None),
        ("(function () {})", None),
        ("Symbol('s')", None),
        ("10n", None),
        ("var o = {}; o.o = o; o", None),
        ("NaN", None),
        ("new Date(0)", "1970-01-01T00:00:00.000Z"),
        ("var x = 1;", None),
        ("", None),
    ],
)
def test_result_is_the_completion_value_or_null(run, code, expected):
    assert value(run(code)) == expected


def test_errors_report_name_message_and_line(run):
    result = run("var a = 1;\n\nnull.x;")
    assert result["ok"] is False and result["result"] is None
    assert result["error"]["name"] == "TypeError"
    assert result["error"]["line"] == 3

    result = run(
        "function f() {\n  return 1;\n}\nfunction g() {\n  throw new RangeError('deep');\n}\nf();\ng();"
    )
    assert result["error"] == {"name": "RangeError", "message": "deep", "line": 5}

    result = run("cache.get('ok');\ncache.get('not ok')")
    assert result["error"]["name"] == "TypeError" and result["error"]["line"] == 2

    result = run("cache.set('k', undefined)")
    assert result["error"]["name"] == "TypeError" and result["error"]["line"] == 1

    result = run("var x = 1;\nvar y = ;")
    assert result["error"]["name"] == "SyntaxError" and result["error"]["line"] == 2

    result = run("throw 'plain string'")
    assert result["error"]["message"] == "plain string"

    result = run("throw {code: 7}")
    assert result["error"]["message"] == '{"code":7}'


def test_output_and_writes_before_an_error_are_kept(run, brand):
    result = run(
        "cache.set('before', 1); setVariable('v', 1); console.log('x'); redirect('/r'); undefinedFn();"
    )
    assert result["ok"] is False and result["error"]["name"] == "ReferenceError"
    assert result["variables"] == {"v": 1} and result["logs"] == [{"level": "log", "message": "x"}]
    assert result["redirect"] == "/r" and result["ops"] == 1
    assert BrandCache.for_brand(brand).get("before") == 1


def test_async_code_runs_to_completion_within_the_execution(run, brand):
    result = run("(async function () { await null; cache.set('async', 1); setVariable('done', true); })(); 1")
    assert value(result) == 1
    assert result["variables"] == {"done": True}
    assert BrandCache.for_brand(brand).get("async") == 1


def test_duration_is_reported(run):
    result = run("1")
    assert isinstance(result["duration_ms"], float) and result["duration_ms"] > 0


# ---------------------------------------------------------------- cache unavailable


def test_cache_unavailable_gives_soft_results_and_a_warning(brand):
    # A separate pool whose workers point at a port where nothing listens.
    dead = ScriptPool(1, env={"REDIS_URL": "redis://127.0.0.1:1/0"})
    try:
        result = run_script(
            brand,
            "[cache.get('a'), cache.has('a'), cache.set('a', 1), cache.setIfAbsent('a', 1), cache.del('a'),"
            " cache.increment('a')]",
            pool=dead,
        )
    finally:
        dead.close()
    assert value(result) == [None, False, False, False, False, None]
    assert result["warnings"] == ["cache unavailable"]
    assert result["ops"] == 6
