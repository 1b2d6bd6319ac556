"""The staff quota monitor at 10,000 brands, for ``manage.py cache_bench`` (issue 12, item 7).

10,000 brands are made with bulk inserts (quotas of 50 to 1,000 keys, eight hourly snapshots
each, the last one with a forecast for about half of them); the brands that the measured views
show get live keys in Redis, as many as their last snapshot says (written in the service's layout
by ``brands.cache.fill_brand_layout``, pipelined), so the rows shown are counted from Redis as in
production. Then, through Django's test client as a staff user, each view's median and p95:

- the full page (default sort, "used" descending, the Redis panel included),
- a click on "Limit reached" (the table fragment, "reaches limit soonest"),
- a deep page (page 150 of 200, by live keys ascending),
- the name filter.

The baseline, measured in the same process: counting every brand live in one pipeline, which is
what the monitor did before paging (it read every brand's count on every view, and rendered
every row); the ratio of the full page to it is printed. Queries and Redis pipelines of one view
are counted too (constant: see tests/views/test_staff_paging.py).

Everything is created here and deleted here, on success or failure: brands whose slug starts
with a prefix unique to the run (cascading to quotas and snapshots), their keys, a staff user.
"""

from __future__ import annotations

import random
import secrets
import statistics
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from brands.bench.measure import percentile
from brands.cache import (
    BrandCache,
    BrandKeys,
    CacheLimits,
    brands_live_counts,
    fill_brand_layout,
    redis_client,
)
from brands.models import Brand, QuotaSettings, UsageSnapshot
from brands.usage import MonitorQuery, quota_page

BRANDS = 10_000
SNAPSHOTS_PER_BRAND = 8
KEY_TTL_MS = 3_600_000
TARGET_MS = 150.0


def _timings(client: Client, url: str, runs: int, **headers) -> dict:
    times = []
    for i in range(runs + 2):  # two warm-up requests
        start = time.perf_counter()
        response = client.get(url, **headers)
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
        if i >= 2:
            times.append(elapsed)
    return {"median_ms": round(statistics.median(times), 2), "p95_ms": round(percentile(times, 0.95), 2),
            "runs": runs}


def _make(prefix: str, count: int) -> list[Brand]:
    rng = random.Random(7)
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic():
        brands = Brand.objects.bulk_create(
            [Brand(slug=f"{prefix}-{i:05d}", name=f"Monitor brand {rng.randrange(10**6):06d}")
             for i in range(count)], batch_size=1000)
        limits = {brand.pk: rng.randrange(50, 1001) for brand in brands}
        QuotaSettings.objects.bulk_create([QuotaSettings(brand=b, max_keys=limits[b.pk]) for b in brands],
                                          batch_size=1000)
        snapshots = []
        for brand in brands:
            limit = limits[brand.pk]
            live = rng.randrange(0, limit + 1)
            growing = rng.random() < 0.5
            for h in range(SNAPSHOTS_PER_BRAND - 1, -1, -1):
                snapshots.append(UsageSnapshot(
                    brand=brand, taken_at=now - timedelta(hours=h),
                    live_keys=max(0, live - (h if growing else 0)),
                    max_keys=limit, refused_writes=rng.randrange(0, 5),
                    limit_at=now + timedelta(hours=rng.randrange(1, 2000)) if growing and h == 0 else None,
                ))
        UsageSnapshot.objects.bulk_create(snapshots, batch_size=2000)
    return brands


def _fill_shown(brands: list[Brand], queries: list[MonitorQuery]) -> list[int]:
    """Live keys for the brands the measured views show, as many as their last snapshot says."""
    client = redis_client()
    shown = {}
    for query in queries:
        for row in quota_page(query).rows:
            shown[row.brand.pk] = row.brand
    for brand in shown.values():
        live = UsageSnapshot.objects.filter(brand=brand).order_by("-taken_at").values_list(
            "live_keys", flat=True).first() or 0
        if live:
            fill_brand_layout(client, BrandKeys.for_brand(brand.pk), [f"k:{i:05d}" for i in range(live)],
                              '{"v":1}', ttl_ms=KEY_TTL_MS, index_ttl_ms=KEY_TTL_MS)
    return list(shown)


def monitor_benchmark(quick: bool, *, brands: int = BRANDS, runs: int | None = None) -> dict:
    """Median and p95 milliseconds per view of the monitor with ``brands`` brands; prints nothing."""
    runs = runs or (10 if quick else 25)
    prefix = f"bench-monitor-{secrets.token_hex(3)}"
    user = None
    with_keys: list[int] = []
    started = time.perf_counter()
    test_settings = override_settings(
        ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"], SECURE_SSL_REDIRECT=False
    )
    base = reverse("staff-quotas")
    deep = max(1, (brands // 50) * 3 // 4)
    views = {
        "full_page": (base, {}),
        "sort_forecast_htmx": (f"{base}?sort=forecast&dir=asc", {"HTTP_HX_REQUEST": "true"}),
        "deep_page_htmx": (f"{base}?sort=live_keys&dir=asc&page={deep}", {"HTTP_HX_REQUEST": "true"}),
        "name_filter_htmx": (f"{base}?q=brand+1", {"HTTP_HX_REQUEST": "true"}),
    }
    try:
        with test_settings:
            made = _make(prefix, brands)
            make_s = time.perf_counter() - started
            with_keys = _fill_shown(made, [
                MonitorQuery(), MonitorQuery(sort="forecast", direction="asc"),
                MonitorQuery(sort="live_keys", direction="asc", page=deep), MonitorQuery(q="brand 1"),
            ])
            total_brands = Brand.objects.count()
            user = get_user_model().objects.create_user(f"{prefix}-staff", is_staff=True)
            client = Client()
            client.force_login(user)
            figures = {name: _timings(client, url, runs, **headers) for name, (url, headers) in views.items()}

            with CaptureQueriesContext(connection) as queries:
                client.get(base)
            ids = list(Brand.objects.values_list("pk", flat=True))
            baseline = []
            for _ in range(5 if quick else 9):
                start = time.perf_counter()
                brands_live_counts(ids)
                baseline.append((time.perf_counter() - start) * 1000)
            baseline_ms = round(statistics.median(baseline), 2)
    finally:
        cleanup_start = time.perf_counter()
        for brand_id in with_keys:
            # Limits do not matter to a delete.
            limits = CacheLimits(max_keys=1, max_value_bytes=1, default_ttl=1, max_ttl=1)
            BrandCache(brand_id, limits).delete_all()
        UsageSnapshot.objects.filter(brand__slug__startswith=f"{prefix}-").delete()
        QuotaSettings.objects.filter(brand__slug__startswith=f"{prefix}-").delete()
        Brand.objects.filter(slug__startswith=f"{prefix}-").delete()
        if user is not None:
            user.delete()
        cleanup_s = time.perf_counter() - cleanup_start

    median = figures["full_page"]["median_ms"]
    return {
        **figures,
        "brands": total_brands,
        "brands_with_keys": len(with_keys),
        "queries_per_view": len(queries),
        "deep_page": deep,
        "live_count_all_brands_ms": baseline_ms,
        "full_page_over_live_count_all": round(median / baseline_ms, 3) if baseline_ms else None,
        "make_s": round(make_s, 2),
        "cleanup_s": round(cleanup_s, 2),
        "total_s": round(time.perf_counter() - started, 2),
        "targets": [{"name": "staff_monitor_10k_median_ms", "value": median, "target": f"< {TARGET_MS:g}",
                     "pass": median < TARGET_MS}],
    }


def format_monitor(f: dict) -> list[str]:
    """The report's lines for these figures."""
    lines = [f"Staff monitor, {f['brands']:,} brands ({f['brands_with_keys']} with live keys on the views "
             f"measured), {f['queries_per_view']} queries a view, median / p95 ms:"]
    labels = {"full_page": "full page (used, descending)",
              "sort_forecast_htmx": "sort: reaches limit soonest",
              "deep_page_htmx": f"page {f['deep_page']} by live keys", "name_filter_htmx": "name filter"}
    for name, label in labels.items():
        lines.append(f"  {label:<30} {f[name]['median_ms']:8.2f} / {f[name]['p95_ms']:.2f} "
                     f"({f[name]['runs']} runs)")
    lines.append(f"  baseline: every brand counted live in one pipeline (the monitor before paging): "
                 f"{f['live_count_all_brands_ms']:.1f} ms; full page / baseline "
                 f"{f['full_page_over_live_count_all']}x")
    target = f["targets"][0]
    lines.append(f"  target {target['name']} {target['target']}: {'PASS' if target['pass'] else 'MISS'}; "
                 f"made in {f['make_s']} s, cleaned up in {f['cleanup_s']} s")
    return lines
