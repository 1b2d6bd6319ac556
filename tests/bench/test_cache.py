"""``manage.py cache_bench`` at a tiny size: the JSON report's shape, one round trip per call,
both sides of each comparison agree, a failing part never loses the others' figures, and every
key the bench wrote is gone afterwards (also when it is interrupted). Times are never asserted."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from brands import bench
from brands.bench import runner
from brands.cache import BrandCache, redis_client

TINY = ["--foreign-keys", "2000", "--brand-keys", "500", "--rounds", "2", "--calls", "50"]
CONTRACT_OPS = ["get", "set", "has", "delete", "set_if_absent", "increment"]

def bench_keys(prefix: str) -> list[bytes]:
    return list(redis_client().scan_iter(match=f"{prefix}:*", count=1000))


def fake_scripting_benchmark(quick: bool) -> dict:
    return {"quick_was": quick, "runs_per_s": 1234}


def broken_benchmark(quick: bool) -> dict:
    raise RuntimeError("boom")


@pytest.fixture
def fake_other_benchmarks(monkeypatch):
    """The script and page benchmarks have tests of their own (tests/bench/); here they are
    stand-ins, one of them failing."""
    monkeypatch.setattr(runner, "OTHER_BENCHMARKS",
                        {"scripting": fake_scripting_benchmark, "pages": broken_benchmark})


def test_quick_json_report(brand_factory, fake_other_benchmarks):
    # A real brand's key must come through the bench untouched.
    brand = brand_factory()
    assert BrandCache.for_brand(brand).set("mine", {"keep": True})
    out = StringIO()
    call_command("cache_bench", "--quick", "--json", *TINY, verbosity=0, stdout=out)
    report = json.loads(out.getvalue())

    assert set(report["environment"]) >= {"date", "python", "redis", "platform", "cpu_count"}
    assert report["sizes"]["foreign_keys"] == 2000 and report["sizes"]["brand_keys"] == 500
    for op in ["get", "set", "has", "increment", "set_if_absent"]:
        figures = report["per_call"][op]
        assert figures["raw_us"] > 0 and figures["service_us"] > 0 and figures["ratio"] > 0
        assert len(figures["rounds_ratio"]) == 2
    for op in [*CONTRACT_OPS, "live_count", "list_keys", "raw GET (calibration)"]:
        assert report["round_trips"][op]["round_trips"] == 1, (op, report["round_trips"][op])
    if report["round_trips"]["set"]["method"] == "MONITOR":  # refused by some managed servers
        # A write is one EVALSHA; the commands it runs inside Redis are not round trips.
        assert report["round_trips"]["set"]["commands_per_call"] == {"evalsha": 1}
        assert report["round_trips"]["set"]["script_commands_per_call"]["set"] == 1
        assert report["round_trips"]["get"]["commands_per_call"] == {"get": 1}
        assert report["round_trips"]["get"]["script_commands_per_call"] == {}
    for name in ("live_count", "first_page"):
        assert report["browse"][name]["agrees"] is True
        assert report["browse"][name]["service_ms"] > 0 and report["browse"][name]["scan_ms"] > 0
    memory = report["memory"]
    assert memory["keys"] == 500 and memory["value_bytes"] == report["sizes"]["value_bytes"]
    assert memory["value_key_bytes"] > memory["value_bytes"]  # the value plus its key's bookkeeping
    assert memory["expiry_index_bytes_per_key"] > 0 and memory["name_index_bytes_per_key"] > 0
    assert memory["bytes_per_key"] == pytest.approx(memory["value_key_bytes"] + memory[
        "expiry_index_bytes_per_key"] + memory["name_index_bytes_per_key"], abs=0.2)
    overhead = memory["bytes_per_key"] - memory["value_bytes"]
    assert memory["overhead_per_key"] == pytest.approx(overhead, abs=0.2)
    assert len(report["targets"]) == 14
    counting = report["counting"]
    for op in ("get", "set"):  # issue 12: counting on, one flush per 20 calls
        assert counting[op]["raw_us"] > 0 and counting[op]["counted_us"] > 0 and counting[op]["ratio"] > 0
        assert counting[op]["flush_us"] > 0
        assert counting[op]["script_path_ratio"] > 0
        assert len(counting[op]["rounds_ratio"]) == 2
    assert counting["flush_every"] == 20 and counting["record_us"] > 0 and counting["flush_us"] > 0
    assert counting["release_us"] > 0 and counting["release_with_counts_us"] > 0
    assert [t["name"] for t in report["targets"][-2:]] == [
        "service get with counting (1 flush / 20 calls) vs raw",
        "service set with counting (1 flush / 20 calls) vs raw",
    ]
    assert all(isinstance(t["pass"], bool) for t in report["targets"])
    assert report["other"]["scripting"] == {"quick_was": True, "runs_per_s": 1234}
    assert report["other"]["pages"] == {"error": "RuntimeError: boom"}

    assert report["cleanup"]["remaining"] == 0
    assert report["cleanup"]["deleted_keys"] >= 2000 + 500
    assert bench_keys(report["bench_prefix"]) == []
    assert BrandCache.for_brand(brand).get("mine") == {"keep": True}


def test_table_output_mentions_targets(db):
    out = StringIO()
    call_command("cache_bench", *TINY, "--skip-other-benchmarks", verbosity=0, stdout=out)
    text = out.getvalue()
    targets = text.split("\nTargets\n", 1)[1].split("\n\n", 1)[0].splitlines()
    # One line per target, each with its value, its target and PASS or MISS, then the tally.
    assert len(targets) == 14 + 1
    assert targets[0].split()[:5] == ["service", "get", "vs", "raw", "GET"]
    assert all(line.rstrip().endswith(("PASS", "MISS")) for line in targets[:14])
    assert "<= 1.3x" in targets[0] and "<= 1.5x" in targets[1]
    passed = sum(line.rstrip().endswith("PASS") for line in targets[:14])
    assert targets[14].strip() == f"{passed}/14 PASS"
    assert "CPUs" in text and "Python" in text and "Redis" in text


def test_interrupted_run_cleans_up_what_it_wrote(db):
    seen: list[str] = []

    def progress(message: str) -> None:
        seen.append(message)
        if message.startswith("Browsing"):  # after every key has been written
            raise KeyboardInterrupt

    config = bench.BenchConfig.make(quick=True, foreign_keys=2000, brand_keys=500, rounds=1, calls=10,
                                    other_benchmarks=False)
    with pytest.raises(KeyboardInterrupt):
        bench.run(config, progress)
    prefix = seen[0].split(" under ")[1].rstrip(":")
    assert "Cleaning up" in seen
    assert bench_keys(prefix) == []


def test_a_failing_benchmark_is_reported_in_its_place_and_the_others_still_run(db, fake_other_benchmarks):
    out = StringIO()
    call_command("cache_bench", *TINY, verbosity=0, stdout=out)
    text = out.getvalue()
    assert "pages: ERROR RuntimeError: boom" in text
    assert "runs_per_s: 1234" in text
    assert "\nTargets\n" in text


def test_value_bytes_sizes_the_brands_values_for_the_memory_figures(db):
    out = StringIO()
    call_command("cache_bench", "--json", *TINY, "--skip-other-benchmarks", "--value-bytes", "300",
                 verbosity=0, stdout=out)
    memory = json.loads(out.getvalue())["memory"]
    assert memory["value_bytes"] == 300
    assert memory["value_key_bytes"] > 300 and memory["overhead_per_key"] == pytest.approx(
        memory["bytes_per_key"] - 300, abs=0.2)
    with pytest.raises(CommandError, match="at least 2"):
        call_command("cache_bench", *TINY, "--value-bytes", "1", verbosity=0, stdout=StringIO())
