"""The fair-scheduling benchmark runs end to end (a short flood: this checks the plumbing and the
counting, not the speed) and cleans up after itself."""

from __future__ import annotations

from brands.bench.fairness import FLOOD_BRAND_ID, QUIET_BRAND_ID, format_fairness, measure
from brands.cache import brands_script_stats


def test_a_short_flood_is_measured_counted_and_cleaned_up(db):
    figures = measure(alone_runs=10, flood_seconds=2.5, flood_threads=3)
    alone, during, flood = figures["quiet_alone"], figures["quiet_during_flood"], figures["flood"]
    assert alone["runs"] == 10 and 0 < alone["p50_ms"] <= alone["p95_ms"]
    assert during["runs"] > 0 and during["p50_ms"] <= during["p95_ms"] <= during["max_ms"]
    # One of the flooding brand's runs at a time: at least one hit the time limit, others were refused.
    assert flood["by_outcome"].get("timeout", 0) >= 1
    assert flood["by_outcome"].get("busy", 0) >= 1
    assert set(flood["by_outcome"]) <= {"timeout", "busy", "budget"}
    assert figures["p95_during_over_p50_alone"] == round(during["p95_ms"] / alone["p50_ms"], 2)
    assert len(figures["targets"]) == 3
    lines = format_fairness(figures)
    assert any("p95 during / p50 alone" in line for line in lines)
    stats = brands_script_stats([QUIET_BRAND_ID, FLOOD_BRAND_ID])
    assert stats[QUIET_BRAND_ID].runs == 0 and stats[FLOOD_BRAND_ID].runs == 0  # deleted at the end
