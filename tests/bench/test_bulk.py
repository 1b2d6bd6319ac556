"""The import/export benchmark runs end to end on a small size and cleans up (plumbing, not
speed: figures are never asserted)."""

from __future__ import annotations

from brands.bench.bulk import BENCH_BRAND_ID, _child_rss, _limits, bench_lines, import_export
from brands.bench.report import format_bulk
from brands.cache import BrandCache


def test_import_export_figures_and_cleanup(db):
    figures = import_export(300)
    assert figures["import_written"] == figures["old_import_written"] == 300
    assert figures["export_lines"] == 300 and figures["export_agrees"] is True
    assert figures["import_s"] > 0 and figures["old_import_s"] > 0
    assert BrandCache(BENCH_BRAND_ID, _limits()).live_count() == 0
    text = "\n".join(format_bulk({**figures, "peak_rss": {}, "targets": {}}))
    assert "import and export of 300 JSON lines" in text and "old per-line import" in text


def test_peak_rss_is_measured_in_a_fresh_process(tmp_path):
    path = tmp_path / "small.jsonl"
    path.write_bytes(bench_lines(50) + b"x" * 5000 + b"\n")
    figures = _child_rss(path, "new")
    assert figures["written"] == 50 and figures["refused"] == 1, figures
    assert 0 < figures["rss_before_mib"] <= figures["peak_rss_mib"]
    assert BrandCache(BENCH_BRAND_ID, _limits()).live_count() == 0
