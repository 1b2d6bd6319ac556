"""Page timings for ``manage.py cache_bench`` (part 3 of 3): real requests through Django's test client.

Three pages, each timed as a median and p95 over repeated requests after a warm-up:

- the key browser's first page on a brand of 50,000 keys,
- the usage page of that brand (live count, the exact analysis: stored bytes, histograms, biggest
  keys, namespaces; a week of five-minute snapshots drawn as a chart), and beside it the figures
  it replaced computed the old way in the same process (every value's length read, the first
  500 top-level tree entries walked),
- the staff quota monitor with 1,000 extra brands (a page of 50: five queries and one Redis
  pipeline however many brands there are; 10,000 brands are ``monitor.py``'s job).

Everything is created here and deleted here, on success or failure: brands whose slug starts
with a prefix unique to the run, their keys (written through the service, with a TTL, so even a
killed run leaves nothing in Redis for long), their snapshots and a staff user.
"""

from __future__ import annotations

import secrets
import statistics
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone

from brands.bench.measure import percentile
from brands.cache import BrandCache
from brands.models import Brand, QuotaSettings, UsageSnapshot

KEY_TTL_S = 3600
NAMESPACES = 20
SNAPSHOT_EVERY = timedelta(minutes=5)
TARGETS = {"staff_monitor_median_ms": 150.0, "usage_page_median_ms": 20.0}


def _timings(client: Client, url: str, runs: int, *, warmup: int = 2, **headers) -> dict:
    for _ in range(warmup):
        response = client.get(url, **headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url, **headers)
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
    return {
        "median_ms": round(statistics.median(times), 2),
        "p95_ms": round(percentile(times, 0.95), 2),
        "runs": runs,
    }


def _fill(brand: Brand, count: int) -> None:
    cache = BrandCache.for_brand(brand, raise_unavailable=True)
    value = {"user": 123456, "name": "Ada Lovelace", "plan": "pro"}
    for i in range(count):
        if not cache.set(f"ns{i % NAMESPACES:02d}:item:{i:06d}", value, KEY_TTL_S):
            raise RuntimeError(f"the bench brand refused key {i}: {cache.warnings[-1:]}")


def _analysis_against_scan(brand: Brand, runs: int) -> dict:
    """The usage page's Redis work now (one analysis read, after a prune) against the old way
    (stored bytes by reading every value, the namespace summary by walking the tree), alternated
    call by call, with the figures compared."""
    cache = BrandCache.for_brand(brand, raise_unavailable=True)
    new_ms, old_ms = [], []
    agrees = True
    for _ in range(runs):
        start = time.perf_counter()
        analysis = cache.analysis()
        middle = time.perf_counter()
        scanned = cache.stored_bytes_scanned()
        tree = cache.namespace_tree("", limit=500)
        end = time.perf_counter()
        new_ms.append((middle - start) * 1000)
        old_ms.append((end - middle) * 1000)
        old_namespaces = sorted((n.key_count for n in tree if not n.is_leaf), reverse=True)[:10]
        agrees &= (analysis.stored_bytes == scanned
                   and [ns.keys for ns in analysis.namespaces_by_keys] == old_namespaces)
    new, old = statistics.median(new_ms), statistics.median(old_ms)
    return {"analysis_ms": round(new, 3), "old_scan_ms": round(old, 2),
            "speedup": round(old / new, 1) if new else None, "agrees": agrees}


def _snapshots(brand: Brand, live: int, days: int = 7) -> None:
    now = timezone.now()
    count = int(timedelta(days=days) / SNAPSHOT_EVERY)
    UsageSnapshot.objects.bulk_create(
        (UsageSnapshot(brand=brand, taken_at=now - i * SNAPSHOT_EVERY, live_keys=max(live - i * 5, 0),
                       max_keys=brand.quota.max_keys) for i in range(count)),
        batch_size=1000,
    )


def _make_brands(prefix: str, count: int) -> None:
    # Bulk inserts (Brand.save would add a query per brand for its quota row).
    with transaction.atomic():
        brands = Brand.objects.bulk_create(
            [Brand(slug=f"{prefix}-m{i:04d}", name=f"Bench monitor {i}") for i in range(count)],
            batch_size=500,
        )
        QuotaSettings.objects.bulk_create([QuotaSettings(brand=b) for b in brands], batch_size=500)


def page_benchmarks(quick: bool, *, brand_keys: int = 50_000, monitor_brands: int = 1000,
                    runs: int | None = None) -> dict:
    """Median and p95 milliseconds per page; prints nothing."""
    runs = runs or (15 if quick else 40)
    prefix = f"bench-pages-{secrets.token_hex(3)}"
    big: Brand | None = None
    user = None
    started = time.perf_counter()
    # Requests go through the full middleware stack; the test client's host and plain HTTP must
    # be accepted whatever the deployment settings say.
    test_settings = override_settings(
        ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"], SECURE_SSL_REDIRECT=False
    )
    try:
        with test_settings:
            big = Brand.objects.create(slug=f"{prefix}-big", name="Bench 50k")
            big.quota.max_keys = max(brand_keys, 1) * 2
            big.quota.save()
            fill_start = time.perf_counter()
            _fill(big, brand_keys)
            fill_s = time.perf_counter() - fill_start
            _snapshots(big, brand_keys)
            _make_brands(prefix, monitor_brands)
            brand_count = Brand.objects.count()  # what the monitor lists
            user = get_user_model().objects.create_user(f"{prefix}-staff", is_staff=True)
            client = Client()
            client.force_login(user)

            figures = {
                "key_browser_first_page": _timings(client, reverse("keys", args=[big.slug]), runs),
                "usage_page": _timings(client, reverse("usage", args=[big.slug]), runs),
                "usage_analysis": _analysis_against_scan(big, max(3, runs // 3)),
                "staff_monitor": _timings(client, reverse("staff-quotas"), runs),
                # What a click on a column heading costs: the table partial only.
                "staff_monitor_sort_htmx": _timings(
                    client, reverse("staff-quotas") + "?sort=slug&dir=asc", runs, HTTP_HX_REQUEST="true"
                ),
            }
    finally:
        cleanup_start = time.perf_counter()
        if big is not None:
            BrandCache.for_brand(big, raise_unavailable=True).delete_all()
        # Monitor brands hold no keys; deleting the rows cascades to quotas and snapshots.
        Brand.objects.filter(slug__startswith=f"{prefix}-").delete()
        if user is not None:
            user.delete()
        cleanup_s = time.perf_counter() - cleanup_start

    median = figures["staff_monitor"]["median_ms"]
    usage_median = figures["usage_page"]["median_ms"]
    return {
        **figures,
        "sizes": {"brand_keys": brand_keys, "monitor_brands": brand_count, "runs": runs},
        "fill_s": round(fill_s, 2),
        "cleanup_s": round(cleanup_s, 2),
        "total_s": round(time.perf_counter() - started, 2),
        "targets": [{"name": "staff_monitor_median_ms", "value": median,
                     "target": f"< {TARGETS['staff_monitor_median_ms']:g}",
                     "pass": median < TARGETS["staff_monitor_median_ms"]},
                    {"name": "usage_page_median_ms", "value": usage_median,
                     "target": f"< {TARGETS['usage_page_median_ms']:g}",
                     "pass": usage_median < TARGETS["usage_page_median_ms"]}],
    }

