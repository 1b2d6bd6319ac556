"""Differential tests: the same inputs through the sandbox and through Node.js (V8), the reference
for JavaScript semantics. Values go through cache.set / cache.get, setVariable, console.log and
the completion value; numbers through increment; generated expressions through both engines.
Without node they skip (tests/support/node.py); CI installs Node and requires them."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from brands.cache import BrandCache
from brands.scripting import run_script
from tests.support.node import node_eval, require_node

pytestmark = pytest.mark.usefixtures("script_pool")

# Each example starts Node and runs the sandbox: no shrinking (it can take minutes), and the
# failing example is printed as it was generated.
HYPOTHESIS = settings(max_examples=30, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
                      suppress_health_check=[HealthCheck.function_scoped_fixture])


def js_string(text: str) -> str:
    """A JavaScript string literal for any Python str, lone surrogates and NUL included."""
    out = []
    for char in text:
        code = ord(char)
        if 0x20 <= code < 0x7F and char not in "\"\\":
            out.append(char)
        elif code > 0xFFFF:
            high, low = divmod(code - 0x10000, 0x400)
            out.append(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}")
        else:
            out.append(f"\\u{code:04x}")
    return '"' + "".join(out) + '"'


def js_literal(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        number = float(value)
        return "-0" if number == 0 and math.copysign(1, number) < 0 else repr(number)
    if isinstance(value, str):
        return js_string(value)
    if isinstance(value, list):
        return "[" + ",".join(js_literal(item) for item in value) + "]"
    return "({" + ",".join(f"{js_string(k)}:{js_literal(v)}" for k, v in value.items()) + "})"


ODD_STRINGS = st.sampled_from(
    ["\ud800", "\udfff", "a\ud83d", "\ude00b", "\x00", "a\x00b", "\ud83d\ude00", "é", "\u2028"]
)
STRINGS = st.lists(st.one_of(st.text(max_size=6), ODD_STRINGS), max_size=3).map("".join)
NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(min_value=2.0**64, max_value=1e21),  # issue 10, finding 1
    st.floats(min_value=5e-324, max_value=1e-300),  # subnormals and their neighbours
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, STRINGS)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(STRINGS, inner, max_size=3)),
    max_leaves=6,
)


@pytest.fixture
def roomy(brand_factory):
    """A brand whose limits leave room for a batch of values in one execution."""
    return brand_factory(max_ops_per_execution=500, max_value_bytes=100_000)


@HYPOTHESIS
@given(values=st.lists(VALUES, min_size=1, max_size=8))
def test_values_round_trip_as_in_javascript(roomy, values):
    require_node()
    literals = [js_literal(value) for value in values]
    code = (
        f"var vals = [{','.join(literals)}], out = [];\n"
        "for (var i = 0; i < vals.length; i++) {\n"
        "  cache.set('k' + i, vals[i]); out.push(cache.get('k' + i));\n"
        "}\n"
        "setVariable('vals', vals); console.log(JSON.stringify(vals));\n"
        "[out, out.map(function (v, i) { return JSON.stringify(v) === JSON.stringify(vals[i]); })]"
    )
    result = run_script(roomy, code)
    assert result["ok"], result["error"]
    reference = node_eval(
        [f"JSON.parse(JSON.stringify([{','.join(literals)}]))"]
        + [f"JSON.stringify({literal})" for literal in literals]
        + [f"JSON.stringify([{','.join(literals)}])"]
    )
    expected = json.loads(reference[0]["json"])
    out, same = result["result"]
    assert out == expected
    assert same == [True] * len(values)  # what get returned is what was set, seen from the script
    assert result["variables"] == {"vals": expected}
    # console.log prints numbers as QuickJS's own JSON.stringify does, which for exact ties
    # (2**-24) writes 17 digits where V8 writes 16 (docs/contract.md#script-globals): the same
    # values, compared as such.
    [log] = result["logs"]
    assert json.loads(log["message"]) == json.loads(json.loads(reference[-1]["json"]))
    stored = BrandCache.for_brand(roomy)
    for index, answer in enumerate(reference[1:-1]):
        # The stored text is JSON.stringify's own text, V8's and QuickJS's alike.
        assert stored.get_json(f"k{index}") == json.loads(answer["json"])


@HYPOTHESIS
@given(pairs=st.lists(st.tuples(NUMBERS, NUMBERS), min_size=1, max_size=20))
def test_increment_stores_javascripts_number_text(roomy, pairs):
    require_node()
    code = "var out = [];\n" + "".join(
        f"cache.set('n{i}', {js_literal(a)});"
        f" try {{ cache.increment('n{i}', {js_literal(b)}); out.push(cache.get('n{i}')); }}"
        f" catch (e) {{ out.push(e.name); }}\n"
        for i, (a, b) in enumerate(pairs)
    ) + "out"
    result = run_script(roomy, code)
    assert result["ok"], result["error"]
    reference = node_eval([f"JSON.stringify({js_literal(a)} + {js_literal(b)})" for a, b in pairs])
    stored = BrandCache.for_brand(roomy)
    for i, ((a, b), answer, got) in enumerate(zip(pairs, reference, result["result"], strict=True)):
        total = float(a) + float(b)
        if not math.isfinite(total):
            assert got == "TypeError"  # docs/contract.md#the-six-methods: a non-finite result throws
            continue
        assert stored.get_json(f"n{i}") == json.loads(answer["json"])
        assert float(got) == total  # JSON gives an int for integral texts; the double is the same


# Expressions over numbers and strings, evaluated by both engines.
EXPR_NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(min_value=-1000, max_value=1000),
).map(js_literal)
EXPR_STRINGS = STRINGS.map(js_string)


def _expressions():
    leaves = st.one_of(EXPR_NUMBERS, EXPR_STRINGS)

    def extend(inner):
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "%", "<", "===", "+''+"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"),
            inner.map(lambda e: f"String({e})"),
            inner.map(lambda e: f"JSON.stringify({e})"),
            inner.map(lambda e: f"[{e}, typeof {e}]"),
            inner.map(lambda e: f"({{v: {e}}})"),
            st.tuples(inner, st.integers(0, 4)).map(lambda t: f"String({t[0]}).slice(0, {t[1]})"),
            inner.map(lambda e: f"encodeURIComponent({e})"),
            inner.map(lambda e: f"Math.round({e})"),
            inner.map(lambda e: f"(+{e}).toFixed(2)"),
        )

    return st.recursive(leaves, extend, max_leaves=5)


@HYPOTHESIS
@given(expressions=st.lists(_expressions(), min_size=1, max_size=10))
def test_generated_expressions_agree_with_node(brand, expressions):
    require_node()
    reference = node_eval(expressions)
    for expression, answer in zip(expressions, reference, strict=True):
        result = run_script(brand, expression)
        if "error" in answer:
            assert result["ok"] is False and result["error"]["name"] == answer["error"], expression
        else:
            assert result["ok"], (expression, result["error"])
            assert result["result"] == json.loads(answer["json"]), expression
