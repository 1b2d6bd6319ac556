"""The script benchmark runs end to end and returns figures (tiny run counts: this checks the
plumbing, not the speed)."""

from __future__ import annotations

from brands.bench.scripting import BENCH_BRAND_ID, measure
from brands.cache import BrandCache, CacheLimits


def test_measure_returns_latency_and_throughput_figures_and_cleans_up(db):
    figures = measure(runs=5, throughput_runs=8)
    assert figures["workers"] >= 1
    for name in ("trivial", "ops20"):
        assert figures[name]["runs"] == 5
        assert 0 < figures[name]["min_ms"] <= figures[name]["median_ms"] <= figures[name]["p99_ms"]
    assert figures["throughput"]["trivial_exec_per_s"] > 0
    assert figures["throughput"]["ops20_exec_per_s"] > 0
    limits = CacheLimits(max_keys=10, max_value_bytes=512, default_ttl=60, max_ttl=60)
    assert BrandCache(BENCH_BRAND_ID, limits).live_count() == 0
