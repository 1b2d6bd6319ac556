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


@given(json_values)
def test_size_is_utf8_bytes_of_compact_json(value):
    text = to_json(value)
    assert json.loads(text) == value
    assert utf8_size(text) == len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


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
