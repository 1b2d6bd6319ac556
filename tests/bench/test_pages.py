from __future__ import annotations

from django.contrib.auth import get_user_model

from brands.bench.pages import page_benchmarks
from brands.models import Brand, UsageSnapshot
from tests.conftest import delete_session_keys


def test_page_benchmarks_time_every_page_and_clean_up(db, brand):
    before_users = get_user_model().objects.count()
    figures = page_benchmarks(True, brand_keys=300, monitor_brands=25, runs=3)
    for page in ("key_browser_first_page", "usage_page", "staff_monitor", "staff_monitor_sort_htmx"):
        assert figures[page]["runs"] == 3
        assert 0 < figures[page]["median_ms"] <= figures[page]["p95_ms"]
    assert figures["sizes"] == {"brand_keys": 300, "monitor_brands": 27, "runs": 3}
    assert figures["targets"][0]["name"] == "staff_monitor_median_ms"
    assert figures["targets"][1]["name"] == "usage_page_median_ms"
    # The exact analysis agrees with the old scan, and is timed beside it.
    assert figures["usage_analysis"]["agrees"] is True
    assert figures["usage_analysis"]["analysis_ms"] > 0 and figures["usage_analysis"]["old_scan_ms"] > 0
    # Everything it made is gone: brands, snapshots, the staff user and every key.
    assert list(Brand.objects.all()) == [brand]
    assert not UsageSnapshot.objects.exists()
    assert get_user_model().objects.count() == before_users
    assert delete_session_keys() == 0
