"""The staff monitor benchmark at a small size: every view measured, the figures reported, and
everything it made gone afterwards."""

from __future__ import annotations

import functools
import json
from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command

from brands.bench import runner
from brands.bench.monitor import format_monitor, monitor_benchmark
from brands.models import Brand, QuotaSettings, UsageSnapshot
from tests.conftest import delete_session_keys


def test_monitor_benchmark_measures_every_view_and_cleans_up(db, brand):
    before_users = get_user_model().objects.count()
    figures = monitor_benchmark(True, brands=120, runs=3)
    for view in ("full_page", "sort_forecast_htmx", "deep_page_htmx", "name_filter_htmx"):
        assert figures[view]["runs"] == 3
        assert 0 < figures[view]["median_ms"] <= figures[view]["p95_ms"]
    assert figures["brands"] == 121  # and the test's own brand
    # session, user, count, ids, rows, and the alerts section (thresholds, alerts, failed deliveries)
    assert figures["queries_per_view"] == 5 + 3
    assert figures["brands_with_keys"] > 0 and figures["live_count_all_brands_ms"] > 0
    assert figures["targets"][0]["name"] == "staff_monitor_10k_median_ms"
    lines = format_monitor(figures)
    assert "Staff monitor, 121 brands" in lines[0]
    assert any("baseline: every brand counted live" in line for line in lines)
    # Gone: the brands, their quotas and snapshots, the staff user and every key.
    assert list(Brand.objects.all()) == [brand]
    assert QuotaSettings.objects.count() == 1 and not UsageSnapshot.objects.exists()
    assert get_user_model().objects.count() == before_users
    assert delete_session_keys() == 0


def test_cache_bench_monitor_option(db, monkeypatch):
    monkeypatch.setattr(runner, "monitor_benchmark", functools.partial(monitor_benchmark, brands=60, runs=2))
    out = StringIO()
    call_command("cache_bench", "--monitor", verbosity=0, stdout=out)
    text = out.getvalue()
    assert text.startswith("cache_bench --monitor")
    assert "Staff monitor, 60 brands" in text and "target staff_monitor_10k_median_ms < 150" in text
    out = StringIO()
    call_command("cache_bench", "--monitor", "--json", verbosity=0, stdout=out)
    assert json.loads(out.getvalue())["monitor"]["brands"] == 60
    assert not Brand.objects.exists()
