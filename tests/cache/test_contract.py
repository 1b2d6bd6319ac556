"""Every rule of docs/contract.md, through the Python face of the cache service, on a real Redis."""

from __future__ import annotations

import json
import time

import pytest

from brands.cache import (
    BrandCache,
    BrandKeys,
    CacheKeyError,
    CacheTTLError,
    CacheUnavailable,
    CacheValueError,
    NotANumberError,
)


def ttl_of(cache: BrandCache, key: str) -> float:
    return cache.key_info(key).ttl_seconds


# ---------------------------------------------------------------- keys


@pytest.mark.parametrize(
    "key",
    ["a", "A-z_0.9:x", "page:home:views", "x" * 200, "-", ".", ":", "email_sent:bob.example.com"],
)
def test_valid_keys_are_accepted(cache, key):
    assert cache.set(key, 1) is True
    assert cache.get(key) == 1


@pytest.mark.parametrize(
    "key",
    ["", "x" * 201, "a b", "a\n", "key\n", "{1}:v:x", "caf\u00e9", "a/b", "a*", "a\x00", "a\t",
     None, 5, 1.5, True, ["a"], {"a": 1}, b"bytes"],
)
@pytest.mark.parametrize("operation", ["get", "set", "delete", "has", "set_if_absent", "increment"])
def test_invalid_keys_throw_type_error_naming_key_and_rule(cache, key, operation):
    call = getattr(cache, operation)
    args = (key, 1) if operation in {"set", "set_if_absent"} else (key,)
    with pytest.raises(TypeError) as excinfo:
        call(*args)
    assert isinstance(excinfo.value, CacheKeyError)
    message = str(excinfo.value)
    assert "1 to 200 characters" in message
    if isinstance(key, str) and key:
        assert repr(key[:10])[1:-1][:5] in message or key[:5] in message
    assert cache.live_count() == 0


def test_long_invalid_key_is_shortened_in_message(cache):
    key = "bad key " + "x" * 300
    with pytest.raises(CacheKeyError) as excinfo:
        cache.set(key, 1)
    assert "bad key" in str(excinfo.value)
    assert len(str(excinfo.value)) < 200


# ---------------------------------------------------------------- values


@pytest.mark.parametrize(
    "value",
    ["text", "", 0, -1, 1.5, True, False, None, [1, "a", None], {"a": {"b": [1, 2]}},
     "\u00e9\u4e2d\U0001f600"],
)
def test_values_round_trip_as_json(cache, value):
    assert cache.set("k", value) is True
    assert cache.get("k") == value
    assert cache.get_json("k") == json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def test_stored_null_is_distinguished_by_has(cache):
    cache.set("n", None)
    assert cache.get("n") is None and cache.has("n") is True
    assert cache.get("missing") is None and cache.has("missing") is False


def test_json_text_is_stored_exactly(cache):
    # What JavaScript's JSON.stringify produced is stored byte for byte.
    text = '{"d":"1970-01-01T00:00:00.000Z","n":null,"x":1e21}'
    assert cache.set_json("k", text) is True
    assert cache.get_json("k") == text


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {1, 2}, object(), b"x"])
def test_unserialisable_value_throws_and_writes_nothing(cache, value):
    with pytest.raises(CacheValueError):
        cache.set("k", value)
    assert cache.has("k") is False


def test_cyclic_value_throws(cache):
    cyclic: list = []
    cyclic.append(cyclic)
    with pytest.raises(TypeError):
        cache.set("k", cyclic)
    assert cache.has("k") is False


def test_invalid_json_text_is_refused(cache):
    with pytest.raises(CacheValueError):
        cache.set_json("k", "{not json")
    with pytest.raises(CacheValueError):
        cache.set_json("k", None)
    assert cache.has("k") is False


def test_size_limit_counts_utf8_bytes_of_json_text(brand_factory):
    cache = BrandCache.for_brand(brand_factory(max_value_bytes=10))
    assert cache.set("k", "12345678") is True  # '"12345678"' = 10 bytes
    assert cache.set("k2", "123456789") is False  # 11 bytes
    assert cache.set("k3", "\u00e9\u00e9\u00e9\u00e9") is True  # 2 quotes + 4 x 2 bytes = 10
    assert cache.set("k4", "\u00e9\u00e9\u00e9\u00e9\u00e9") is False  # 12 bytes, 7 characters


def test_oversize_value_refused_existing_untouched_with_warning(cache):
    cache.set("k", "small")
    assert cache.set("k", "x" * 600) is False
    assert cache.get("k") == "small"
    assert cache.warnings == ["value for key 'k' is 602 bytes, above the limit of 512 bytes; not written"]
    assert cache.set_if_absent("new", "x" * 600) is False
    assert cache.has("new") is False
    assert cache.refused_writes() == {"key_limit": 0, "value_size": 2, "total": 2}


def test_value_at_exactly_the_limit_is_accepted(cache):
    value = "x" * 510  # plus two quotes: 512 bytes
    assert cache.set("k", value) is True
    assert cache.key_info("k").size_bytes == 512


# ---------------------------------------------------------------- TTL


def test_default_ttl_applies_when_omitted(brand_factory):
    cache = BrandCache.for_brand(brand_factory(default_ttl=100, max_ttl=3600))
    cache.set("a", 1)
    cache.set_if_absent("b", 1)
    cache.increment("c")
    for key in "abc":
        assert 98 < ttl_of(cache, key) <= 100


def test_every_key_has_a_ttl(cache):
    cache.set("a", 1)
    client = cache.client
    assert client.pttl(cache.keys.value("a")) > 0


@pytest.mark.parametrize("ttl", [0, -1, -0.5, float("nan"), float("inf"), float("-inf"), "60", True, [60]])
@pytest.mark.parametrize("operation", ["set", "set_if_absent", "increment"])
def test_bad_ttl_throws_type_error_and_writes_nothing(cache, ttl, operation):
    with pytest.raises(CacheTTLError):
        if operation == "increment":
            cache.increment("k", 1, ttl)
        else:
            getattr(cache, operation)("k", 1, ttl)
    assert cache.has("k") is False


def test_fractional_ttl_rounds_up(cache):
    cache.set("a", 1, 0.1)
    assert 0.9 < ttl_of(cache, "a") <= 1.0
    cache.set("b", 1, 10.2)
    assert 10.0 < ttl_of(cache, "b") <= 11.0


def test_ttl_above_max_is_clamped_with_warning(cache):
    assert cache.set("k", 1, 86400) is True
    assert 3590 < ttl_of(cache, "k") <= 3600
    assert cache.warnings == ["TTL of 86400 s for key 'k' is above the maximum of 3600 s; clamped to 3600 s"]


def test_set_always_resets_ttl(cache):
    cache.set("k", 1, 100)
    cache.set("k", 2, 10)
    assert ttl_of(cache, "k") <= 10
    cache.set("k", 3)
    assert ttl_of(cache, "k") > 3590


def test_increment_ttl_rules(cache):
    cache.increment("new", 1, 50)
    assert 48 < ttl_of(cache, "new") <= 50
    cache.increment("new", 1)  # without ttl: remaining TTL kept
    assert 48 < ttl_of(cache, "new") <= 50
    cache.increment("new", 1, 500)  # with ttl: refreshed
    assert 498 < ttl_of(cache, "new") <= 500
    cache.increment("fresh")  # new key without ttl: default_ttl
    assert ttl_of(cache, "fresh") > 3590


def test_expired_key_reads_as_missing(cache):
    cache.set("k", "v", 1)
    time.sleep(1.1)
    assert cache.get("k") is None
    assert cache.has("k") is False
    assert cache.live_count() == 0


# ---------------------------------------------------------------- key limit


def test_key_limit_refuses_new_keys_allows_overwrite(brand_factory):
    cache = BrandCache.for_brand(brand_factory(max_keys=3))
    for key in "abc":
        assert cache.set(key, 1) is True
    assert cache.set("d", 1) is False
    assert cache.set_if_absent("d", 1) is False
    assert cache.increment("d") is None
    assert cache.has("d") is False
    assert cache.warnings[-1] == "key limit of 3 keys reached; key 'd' was not created"
    # Overwriting and incrementing existing keys are always allowed.
    assert cache.set("a", 2) is True
    assert cache.increment("b", 5) == 6
    assert cache.live_count() == 3
    assert cache.refused_writes() == {"key_limit": 3, "value_size": 0, "total": 3}


def test_del_frees_slot_at_once(brand_factory):
    cache = BrandCache.for_brand(brand_factory(max_keys=2))
    cache.set("a", 1)
    cache.set("b", 1)
    assert cache.set("c", 1) is False
    assert cache.delete("a") is True
    assert cache.set("c", 1) is True
    assert cache.live_count() == 2


def test_expiry_frees_slot(brand_factory):
    cache = BrandCache.for_brand(brand_factory(max_keys=2))
    cache.set("short", 1, 1)
    cache.set("long", 1)
    assert cache.set("c", 1) is False
    time.sleep(1.1)
    assert cache.live_count() == 1
    assert cache.set("c", 1) is True
    assert cache.live_count() == 2


def test_refused_counter_is_per_brand(brand_factory):
    small = BrandCache.for_brand(brand_factory(max_keys=1))
    other = BrandCache.for_brand(brand_factory())
    small.set("a", 1)
    small.set("b", 1)
    assert small.refused_writes()["total"] == 1
    assert other.refused_writes()["total"] == 0


# ---------------------------------------------------------------- the methods' return values


def test_delete_returns_true_whether_or_not_key_existed(cache):
    assert cache.delete("never") is True
    cache.set("k", 1)
    assert cache.delete("k") is True
    assert cache.has("k") is False


def test_set_if_absent(cache):
    assert cache.set_if_absent("k", "first") is True
    assert cache.set_if_absent("k", "second") is False
    assert cache.get("k") == "first"


def test_set_if_absent_after_expiry(cache):
    cache.set_if_absent("k", 1, 1)
    time.sleep(1.1)
    assert cache.set_if_absent("k", 2) is True
    assert cache.get("k") == 2


# ---------------------------------------------------------------- increment


def test_increment_creates_missing_key_with_amount(cache):
    assert cache.increment("a") == 1
    assert cache.increment("b", 5) == 5
    assert cache.increment("c", -2.5) == -2.5
    assert cache.get_json("a") == "1"


@pytest.mark.parametrize(
    ("start", "amount", "expected_text"),
    [
        ("0.1", 0.2, "0.30000000000000004"),
        ("5", 1, "6"),
        ("5", -7, "-2"),
        ("1.5", 1.5, "3"),
        ("-1", 1, "0"),
        ("9007199254740992", 1, "9007199254740992"),  # 2**53 + 1 is not a double
        ("1e21", 1, "1e+21"),
        ("1e-7", 0, "1e-7"),
        ("0.000001", 0.000001, "2e-6"),  # shorter than JavaScript's "0.000002", same double
        ("123456789012", 0.5, "123456789012.5"),
    ],
)
def test_increment_is_javascript_arithmetic(cache, start, amount, expected_text):
    cache.set_json("k", start)
    text = cache.increment_json("k", amount)
    assert text == expected_text
    assert float(text) == float(start) + float(amount)  # IEEE-754 doubles, as in JavaScript


def test_increment_result_is_shortest_round_trip_text(cache):
    # Repeated fractional increments: each stored text reads back to exactly the double.
    total = 0.0
    for _ in range(30):
        total += 0.1
        text = cache.increment_json("k", 0.1)
        assert float(text) == total
        assert len(text) <= len(repr(total))


@pytest.mark.parametrize("stored", ['"5"', "true", "null", "[1]", '{"a":1}', '"x"'])
def test_increment_of_non_number_throws_naming_key(cache, stored):
    cache.set_json("k", stored)
    with pytest.raises(NotANumberError) as excinfo:
        cache.increment("k")
    assert "'k'" in str(excinfo.value)
    assert cache.get_json("k") == stored


@pytest.mark.parametrize("amount", [float("nan"), float("inf"), "1", None, True, [1]])
def test_increment_amount_must_be_finite_number(cache, amount):
    with pytest.raises(CacheValueError):
        cache.increment("k", amount)
    assert cache.has("k") is False


def test_increment_to_infinity_throws_and_changes_nothing(cache):
    cache.set_json("k", "1.7e308")
    with pytest.raises(CacheValueError):
        cache.increment("k", 1.7e308)
    assert cache.get_json("k") == "1.7e308"


def test_increment_respects_value_size(brand_factory):
    cache = BrandCache.for_brand(brand_factory(max_value_bytes=3))
    assert cache.increment("k", 100) == 100
    assert cache.increment("k", 900) is None
    assert cache.get("k") == 100
    assert "is 4 bytes" in cache.warnings[-1]
    assert cache.refused_writes()["value_size"] == 1


# ---------------------------------------------------------------- scope


def test_brands_are_isolated(brand_factory):
    one, two = BrandCache.for_brand(brand_factory()), BrandCache.for_brand(brand_factory(max_keys=1))
    one.set("shared", "one")
    one.set("only-one", 1)
    assert two.get("shared") is None and two.has("only-one") is False
    two.set("shared", "two")
    assert one.get("shared") == "one" and two.get("shared") == "two"
    assert one.live_count() == 2 and two.live_count() == 1
    assert [i.key for i in two.list_keys().items] == ["shared"]
    assert two.namespace_tree() == [n for n in two.namespace_tree() if n.prefix == "shared"]
    assert two.count_prefix("only") == 0
    two.delete("shared")
    assert one.get("shared") == "one"
    assert two.delete_prefix("") == 0 and one.live_count() == 2


def test_key_text_cannot_reach_another_brand(brand_factory):
    victim, attacker = BrandCache.for_brand(brand_factory()), BrandCache.for_brand(brand_factory())
    victim.set("secret", "s")
    # Keys with braces or the victim's full Redis name are invalid, and valid look-alikes stay
    # inside the attacker's own hash tag.
    for forged in [f"{{{victim.brand_id}}}:v:secret", victim.keys.value("secret")]:
        with pytest.raises(CacheKeyError):
            attacker.get(forged)
    for lookalike in [f"{victim.brand_id}:v:secret", f"ca:{victim.brand_id}:v:secret", "..:secret"]:
        assert attacker.get(lookalike) is None
    assert attacker.keys.value("x").startswith(BrandKeys.for_brand(attacker.brand_id).value_prefix)


def test_one_brand_one_hash_tag(brand):
    keys = BrandKeys.for_brand(brand.pk)
    tag = f"{{{brand.pk}}}"
    for name in [keys.value("a:b"), keys.expiry_index, keys.name_index, keys.stats]:
        assert name.count("{") == 1 and tag in name


# ---------------------------------------------------------------- cache unavailable


def test_unavailable_soft_failures(brand, dead_redis):
    cache = BrandCache.for_brand(brand)
    assert cache.get("k") is None
    assert cache.has("k") is False
    assert cache.set("k", 1) is False
    assert cache.set_if_absent("k", 1) is False
    assert cache.delete("k") is False
    assert cache.increment("k") is None
    assert cache.warnings == ["cache unavailable"] * 6


def test_unavailable_validation_still_raises(brand, dead_redis):
    with pytest.raises(CacheKeyError):
        BrandCache.for_brand(brand).get("bad key")


def test_unavailable_raises_for_admin_and_strict_callers(brand, dead_redis):
    strict = BrandCache.for_brand(brand, raise_unavailable=True)
    with pytest.raises(CacheUnavailable):
        strict.set("k", 1)
    with pytest.raises(CacheUnavailable):
        strict.get("k")
    soft = BrandCache.for_brand(brand)
    for admin_call in [soft.live_count, soft.list_keys, soft.namespace_tree, soft.refused_writes,
                       soft.stored_bytes, lambda: soft.key_info("k"), lambda: soft.delete_prefix("a"),
                       lambda: soft.count_prefix("a"), lambda: list(soft.export_lines()),
                       lambda: soft.import_lines(['{"key":"a","value":1}'])]:
        with pytest.raises(CacheUnavailable):
            admin_call()
