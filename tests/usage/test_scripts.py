"""Script statistics per brand (brands/usage/scripts.py): every execution counts, whoever asked
for it, by outcome, with p50 / p95 over a bounded history; shown on the usage page."""

from __future__ import annotations

import io
import sys

import pytest
from django.core.management import call_command

from brands.cache import DURATION_HISTORY, brands_script_stats, script_slot_release
from brands.usage import script_summary
from tests.support.htmx import HX

pytestmark = pytest.mark.usefixtures("script_pool")


def _run_script_command(brand, code: str) -> None:
    stdin, sys.stdin = sys.stdin, io.StringIO(code)
    try:
        call_command("run_script", "--brand", brand.slug, "-", stdout=io.StringIO())
    finally:
        sys.stdin = stdin


def test_every_execution_counts_console_json_api_and_command(admin_client, brand, brand_factory):
    url = f"/b/{brand.slug}/console/"
    admin_client.post(url, {"code": "1"}, **HX)
    admin_client.post(url, {"code": "nope()"}, HTTP_ACCEPT="application/json")
    with pytest.raises(SystemExit):
        _run_script_command(brand, "throw new Error('x')")
    _run_script_command(brand, "2")
    too_long = admin_client.post(url, {"code": "x" * 100_001}, HTTP_ACCEPT="application/json")
    assert too_long.json()["error"]["name"] == "RangeError"
    stats = script_summary(brand).stats
    assert (stats.runs, stats.count("ok"), stats.count("error")) == (5, 2, 3)
    assert stats.failures == 3
    assert len(stats.durations_ms) == 4  # the too-long script never ran: no duration
    other = brand_factory()
    assert brands_script_stats([other.pk])[other.pk].runs == 0  # each brand counts its own


def test_durations_keep_a_bounded_history_and_give_nearest_rank_quantiles(brand):
    for duration in range(1, DURATION_HISTORY + 51):  # 50 more than are kept
        script_slot_release(brand.pk, None, outcome="ok", duration_ms=float(duration))
    stats = script_summary(brand).stats
    assert stats.runs == DURATION_HISTORY + 50
    assert len(stats.durations_ms) == DURATION_HISTORY
    assert min(stats.durations_ms) == 51  # the oldest were dropped
    assert stats.p50_ms == 50 + DURATION_HISTORY * 0.5
    assert stats.p95_ms == 50 + DURATION_HISTORY * 0.95


def test_the_usage_page_shows_the_scripts_section(admin_client, brand):
    empty = admin_client.get(f"/b/{brand.slug}/usage/").content.decode()
    assert 'id="usage-scripts"' in empty and "No script has run yet." in empty
    recorded = (("ok", 3.0), ("ok", 5.0), ("timeout", 1000.0), ("busy", None), ("budget", None))
    for outcome, duration in recorded:
        script_slot_release(brand.pk, None, outcome=outcome, duration_ms=duration)
    body = admin_client.get(f"/b/{brand.slug}/usage/").content.decode()
    section = body.split('id="usage-scripts"')[1].split("</section>")[0]
    assert "<div class=\"value\">5</div>" in section  # runs
    assert "<div class=\"value\">3</div>" in section  # did not succeed
    assert "5.0 ms" in section and "1000.0 ms" in section  # p50, p95 of 3, 5, 1000
    assert "of the latest 3 runs" in section
    assert "<td><code>busy</code></td><td>refused: another script of the brand was still running</td>" \
           "<td class=\"num\">1</td>" in section
    assert "<td><code>timeout</code></td><td>hit the time limit</td><td class=\"num\">1</td>" in section
