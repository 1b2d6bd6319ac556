"""Property-based tests (hypothesis) for key validation and JSON size."""

from __future__ import annotations

import json
import re
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brands.cache import BrandCache, CacheKeyError, to_json, utf8_size, validate_key

KEY_ALPHABET = string.ascii_letters + string.digits + "_.:-"
REFERENCE = re.compile(r"\A[a-zA-Z0-9_.:-]{1,200}\Z")

valid_keys = st.text(alphabet=KEY_ALPHABET, min_size=1, max_size=200)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)


@given(valid_keys)
def test_every_key_of_the_alphabet_is_valid(key):
    assert validate_key(key) == key


@given(st.text(max_size=220))
def test_validation_agrees_with_the_rule(text):
    if REFERENCE.match(text):
        assert validate_key(text) == text
    else:
        with pytest.raises(CacheKeyError):
            validate_key(text)


@given(valid_keys, st.sampled_from([" ", "\n", "{", "}", "/", "\u00e9", "*", "\x00"]), st.data())
def test_one_foreign_character_makes_a_key_invalid(key, bad, data):
    position = data.draw(st.integers(0, len(key)))
    with pytest.raises(CacheKeyError):
        validate_key(key[:position] + bad + key[position:])


STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')


@given(json_values)
def test_stored_text_is_compact_json_with_raw_utf8(value):
    """The stored form (docs/contract.md#values): JSON that reads back to the value, with no
    whitespace between tokens, non-ASCII characters as themselves (as JSON.stringify leaves
    them, so the size limit counts what a script would store), and the size its UTF-8 bytes."""
    text = to_json(value)
    assert json.loads(text) == value
    outside_strings = STRING_LITERAL.sub('""', text)
    assert not any(c.isspace() for c in outside_strings), text
    # The only \u escapes are control characters, which JSON cannot carry raw.
    assert all(int(code, 16) < 0x20 for code in re.findall(r"\\u([0-9a-fA-F]{4})", text)), text
    for text_value in _strings(value):
        for char in text_value:
            if ord(char) >= 0x80:
                assert char in text
    assert utf8_size(text) == len(text.encode("utf-8"))


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values)
def test_write_accepted_exactly_when_within_size_limit(brand_factory, value):
    cache = BrandCache.for_brand(brand_factory(max_value_bytes=64))
    size = utf8_size(to_json(value))
    assert cache.set("k", value) is (size <= 64)
    if size <= 64:
        assert cache.get("k") == value
    else:
        assert cache.has("k") is False
    cache.delete_all()
