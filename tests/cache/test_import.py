"""The streaming import (brands.cache.bulk): line reading, per-line refusals and their reasons,
the bounded report, the collision policies, the dry run and TTL clamping
(docs/contract.md#import-and-export)."""

from __future__ import annotations

import io
import json

import pytest

from brands.cache import LINE_OVERHEAD_BYTES, BrandCache, max_line_bytes, read_lines

# Module constants patched by their dotted path (the package's submodules are not imported here).
CHUNK = "brands.cache.bulk.READ_CHUNK_BYTES"
BATCH = "brands.cache.bulk.BATCH_LINES"


def line(key, value, ttl=None) -> str:
    record = {"key": key, "value": value}
    if ttl is not None:
        record["ttl"] = ttl
    return json.dumps(record, separators=(",", ":"))


def source(*lines: str | bytes) -> io.BytesIO:
    data = b"".join((item.encode() if isinstance(item, str) else item) + b"\n" for item in lines)
    return io.BytesIO(data)


@pytest.fixture
def admin_cache(brand) -> BrandCache:
    return BrandCache.for_brand(brand, raise_unavailable=True)


def reasons(report) -> dict[int, str]:
    return {number: reason for number, _key, reason in report.refused}


# ---------------------------------------------------------------------------- reading lines


@pytest.mark.parametrize("chunk", [1, 2, 7, 64, 65536])
def test_lines_are_read_the_same_whatever_the_chunk_size(monkeypatch, chunk):
    monkeypatch.setattr(CHUNK, chunk)
    data = b"a\nbb\n\n" + b"x" * 30 + b"\nccc\n" + b"y" * 12 + b"\ndd"
    got = list(read_lines(io.BytesIO(data), limit=12))
    assert got == [(1, b"a", 1), (2, b"bb", 2), (3, b"", 0), (4, None, 30), (5, b"ccc", 3),
                   (6, b"y" * 12, 12), (7, b"dd", 2)]


def test_a_line_at_the_limit_is_read_and_one_byte_more_is_refused_unread(admin_cache):
    limit = max_line_bytes(admin_cache.limits.max_value_bytes)
    assert limit == 512 + LINE_OVERHEAD_BYTES
    fits = '{"key":"a","value":1}' + " " * (limit - 21)
    too_long = '{"key":"b","value":1}' + " " * (limit - 20)
    assert len(fits) == limit and len(too_long) == limit + 1
    report = admin_cache.import_lines(source(fits, too_long))
    assert report.written == 1 and admin_cache.has("a") and not admin_cache.has("b")
    assert reasons(report)[2] == (
        f"the line is {limit + 1:,} bytes, longer than the {limit:,} bytes a line may have here (the "
        "brand's 512-byte value limit plus 1,024 bytes for the key, TTL and field names); not read"
    )


def test_every_kind_of_bad_line_is_a_refusal_with_a_reason(brand_factory):
    cache = BrandCache.for_brand(brand_factory(max_keys=3, max_ttl=100, default_ttl=50),
                                 raise_unavailable=True)
    cache.set("full:1", 1)
    cache.set("full:2", 1)
    lines = [
        b'{"key":"ok","value":{"a":[1,2]}}',                       # 1 written
        b"not json",                                               # 2
        b'{"key":"x","value":' + b"[" * 600 + b"]" * 600 + b"}",  # 3 depth
        b'{"key":"big","value":1e400}',                            # 4 number range
        b'{"key":"big","value":' + b"9" * 400 + b"}",              # 5 number range (int)
        b'{"key":"a b","value":1}',                                # 6 key
        b'{"key":5,"value":1}',                                    # 7 key not a string
        b'{"key":"t","value":1,"ttl":-5}',                         # 8 TTL
        b'{"key":"t","value":1,"ttl":' + b"9" * 400 + b"}",        # 9 TTL out of range
        b'{"key":"t","value":1,"ttl":"10"}',                       # 10 TTL not a number
        b'{"key":"big","value":"' + b"x" * 600 + b'"}',            # 11 value size
        b'{"key":"new","value":1}',                                # 12 key limit
        b'\xff{"key":"u","value":1}',                              # 13 UTF-8
        b'["list"]',                                               # 14 not an object
        b'{"key":"v"}',                                            # 15 no value
        b'{"key":"n","value":NaN}',                                # 16 NaN
    ]
    report = cache.import_lines(io.BytesIO(b"\n".join(lines)))
    why = reasons(report)
    assert report.written == 1 and report.refused_count == 15 and report.lines == 16
    assert why[2] == "not valid JSON: Expecting value (column 1)"
    assert why[3] == "nested 601 levels deep; at most 500 levels are accepted"
    assert why[4].startswith("the number 1e400 is out of range: numbers must fit in a double")
    assert why[5].startswith("the number 9999") and "out of range" in why[5]
    assert why[6].startswith("Invalid cache key 'a b': keys must be 1 to 200 characters")
    assert why[7].startswith("Invalid cache key (int 5)") or why[7].startswith("Invalid cache key int 5")
    assert why[8].startswith("Invalid TTL int -5: ttlSeconds must be a finite number")
    assert why[9].startswith("the number 9999") and "out of range" in why[9]
    assert why[10].startswith("Invalid TTL '10'")
    assert why[11] == ("value for key 'big' is 602 bytes as compact JSON, above the limit of 512 bytes; "
                       "not written")
    assert why[12] == "key limit of 3 keys reached; key 'new' was not created"
    assert why[13] == "not valid UTF-8 (byte 1 of the line)"
    assert why[14].startswith("expected an object")
    assert why[15] == 'the object has no "value"'
    assert why[16] == "NaN is not valid JSON"
    assert cache.get("ok") == {"a": [1, 2]} and cache.live_count() == 3
    # Refused for its size: counted like any refused write; the key limit counts itself.
    assert cache.refused_writes() == {"key_limit": 1, "value_size": 1, "total": 2}


def test_blank_lines_crlf_and_a_byte_order_mark_are_fine(admin_cache):
    data = b"\xef\xbb\xbf" + b'{"key":"a","value":1}\r\n\r\n   \n{"key":"b","value":"\xc3\xa9"}\r\n'
    report = admin_cache.import_lines(io.BytesIO(data))
    assert (report.written, report.refused_count, report.lines) == (2, 0, 2)
    assert admin_cache.get("b") == "é"


def test_the_report_lists_the_first_refusals_and_counts_the_rest(admin_cache):
    report = admin_cache.import_lines(source(*["nope"] * 250, line("a", 1)))
    assert report.refused_count == 250 and len(report.refused) == 100 and report.refused_hidden == 150
    assert [number for number, _k, _r in report.refused] == list(range(1, 101))
    assert report.written == 1


def test_ttls_above_the_maximum_are_clamped_and_counted(brand_factory):
    cache = BrandCache.for_brand(brand_factory(max_ttl=100, default_ttl=60), raise_unavailable=True)
    lines = [line("a", 1, 86400), line("b", 1, 50), line("c", 1, 101), line("d", 1)]
    report = cache.import_lines(source(*lines))
    assert report.written == 4 and report.clamped == 2
    assert 95 < cache.key_info("a").ttl_seconds <= 100
    assert 55 < cache.key_info("d").ttl_seconds <= 60


def test_an_iterable_of_lines_works_too(admin_cache):
    report = admin_cache.import_lines([line("a", 1), line("b", 2) + "\n", b'{"key":"c","value":3}'])
    assert report.written == 3


def test_batches_are_pipelined(admin_cache, monkeypatch):
    monkeypatch.setattr(BATCH, 10)
    report = admin_cache.import_lines(source(*[line(f"k{i}", i) for i in range(35)]))
    assert report.written == 35 and admin_cache.live_count() == 35


# ---------------------------------------------------------------------------- policies


def _existing(cache: BrandCache) -> None:
    cache.set("b", "old")
    cache.set("d", "old")


POLICY_FILE = [line("a", 1), line("b", 2), line("c", 3), line("d", 4), line("e", 5)]


def test_overwrite_writes_every_line(admin_cache):
    _existing(admin_cache)
    report = admin_cache.import_lines(source(*POLICY_FILE), policy="overwrite")
    assert report.written == 5 and report.skipped == 0
    assert admin_cache.get("b") == 2 and admin_cache.get("d") == 4


def test_skip_leaves_existing_keys_as_they_were(admin_cache):
    _existing(admin_cache)
    report = admin_cache.import_lines(source(*POLICY_FILE), policy="skip")
    assert report.written == 3 and report.skipped == 2
    assert admin_cache.get("b") == "old" and admin_cache.get("d") == "old" and admin_cache.get("e") == 5


def test_stop_writes_the_lines_before_the_first_existing_key_only(admin_cache):
    _existing(admin_cache)
    report = admin_cache.import_lines(source(*POLICY_FILE), policy="stop")
    assert report.written == 1 and report.stopped_at == (2, "b")
    assert admin_cache.get("a") == 1 and admin_cache.get("b") == "old" and not admin_cache.has("c")


def test_stop_counts_a_key_repeated_in_the_file_as_existing(admin_cache, monkeypatch):
    report = admin_cache.import_lines(source(line("a", 1), line("b", 2), line("a", 3)), policy="stop")
    assert report.written == 2 and report.stopped_at == (3, "a") and admin_cache.get("a") == 1
    # Also across batches (the first "a" was written by an earlier batch).
    monkeypatch.setattr(BATCH, 2)
    admin_cache.delete_all()
    report = admin_cache.import_lines(source(line("x", 1), line("y", 2), line("z", 3), line("x", 4)),
                                      policy="stop")
    assert report.written == 3 and report.stopped_at == (4, "x")


def test_an_unknown_policy_is_a_programming_error(admin_cache):
    with pytest.raises(ValueError, match="unknown import policy"):
        admin_cache.import_lines(source(line("a", 1)), policy="merge")


# ---------------------------------------------------------------------------- dry run


def _state(cache: BrandCache) -> tuple:
    page = cache.list_keys(limit=1000)
    return ([(item.key, item.value_json) for item in page.items], cache.refused_writes())


@pytest.mark.parametrize("policy", ["overwrite", "skip", "stop"])
def test_a_dry_run_writes_nothing_and_reports_what_the_import_would_do(brand_factory, policy):
    lines = [*POLICY_FILE, line("f", 6), line("g", "x" * 600), "junk", line("a", 7), line("h", 8, 99999)]
    twins = []
    for _ in range(2):
        cache = BrandCache.for_brand(brand_factory(max_keys=6), raise_unavailable=True)
        _existing(cache)
        twins.append(cache)
    dry_cache, real_cache = twins
    before = _state(dry_cache)
    dry = dry_cache.import_lines(source(*lines), policy=policy, dry_run=True)
    assert _state(dry_cache) == before  # no key, no value, no refusal counter changed
    real = real_cache.import_lines(source(*lines), policy=policy)
    assert dry.dry_run and not real.dry_run
    for name in ("written", "refused_count", "skipped", "clamped", "stopped_at", "lines"):
        assert getattr(dry, name) == getattr(real, name), name
    assert [(n, r) for n, _k, r in dry.refused] == [(n, r) for n, _k, r in real.refused]


def test_a_ttl_or_amount_beyond_the_double_range_is_a_type_error_not_an_overflow(admin_cache):
    from brands.cache import CacheTTLError, CacheValueError

    with pytest.raises(CacheTTLError, match="finite number"):
        admin_cache.set("k", 1, 10**400)
    with pytest.raises(CacheValueError, match="finite number"):
        admin_cache.increment("k", 10**400)
    assert not admin_cache.has("k")


def test_a_lone_surrogate_is_stored_escaped_not_a_crash(admin_cache):
    """Found by the property test: JSON "\\ud800" reads back as a lone surrogate, which has no
    UTF-8 form; it is stored escaped, as JavaScript's JSON.stringify writes it."""
    report = admin_cache.import_lines(source('{"key":"s","value":["\\ud800","é"]}'))
    assert report.written == 1
    assert admin_cache.key_info("s").value_json == '["\\ud800","é"]'
    assert admin_cache.set("t", "\udc00") and admin_cache.get_json("t") == '"\\udc00"'
