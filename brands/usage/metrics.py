"""Prometheus metrics for every brand, gathered fresh per scrape.

A new CollectorRegistry per request (never the process-global one): the figures live in Redis
and the database, shared by every worker process, so there is nothing to accumulate in-process
and nothing for one worker's registry to disagree with another's about.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from brands.cache import CacheUnavailable
from brands.models import Brand, ScriptRun
from brands.usage.levels import BrandUsage, brands_usage, percent_value


class BrandCollector(Collector):
    def __init__(self, brands: list[Brand], usage: dict[int, BrandUsage] | None,
                 runs: dict[tuple[int, bool], int]) -> None:
        self.brands = brands
        self.usage = usage  # None when Redis is unreachable
        self.runs = runs

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("cacheadmin_redis_up", "1 when the cache (Redis) answered this scrape.")
        up.add_metric([], 1 if self.usage is not None else 0)
        yield up

        if self.usage is not None:
            live = GaugeMetricFamily("cacheadmin_brand_live_keys", "Live (unexpired) keys.", labels=["brand"])
            limit = GaugeMetricFamily("cacheadmin_brand_max_keys", "Key limit.", labels=["brand"])
            refused = CounterMetricFamily(
                "cacheadmin_brand_refused_writes",
                "Writes refused by the key limit or the value size.",
                labels=["brand"],
            )
            # The dashboard's own percentage and level words (brands.usage.levels), so an alert
            # says what the pages say.
            percent = GaugeMetricFamily(
                "cacheadmin_brand_usage_percent",
                "Live keys as a percentage of the key limit, rounded as the dashboard shows it.",
                labels=["brand"],
            )
            level = GaugeMetricFamily(
                "cacheadmin_brand_usage_level",
                "1 for the brand's usage level: ok, near limit (80 %), critical (95 %), "
                "over limit (above 100 %).",
                labels=["brand", "level"],
            )
            for brand in self.brands:
                usage = self.usage[brand.pk]
                live.add_metric([brand.slug], usage.live_keys)
                limit.add_metric([brand.slug], usage.max_keys)
                refused.add_metric([brand.slug], usage.refused_writes)
                percent.add_metric([brand.slug], percent_value(usage.percent))
                level.add_metric([brand.slug, usage.word or "ok"], 1)
            yield from (live, limit, refused, percent, level)

        executions = CounterMetricFamily(
            "cacheadmin_script_executions", "Console script runs by outcome.", labels=["brand", "outcome"]
        )
        errors = CounterMetricFamily("cacheadmin_script_errors", "Console script runs that failed.",
                                     labels=["brand"])
        for brand in self.brands:
            ok, failed = self.runs.get((brand.pk, True), 0), self.runs.get((brand.pk, False), 0)
            executions.add_metric([brand.slug, "ok"], ok)
            executions.add_metric([brand.slug, "error"], failed)
            errors.add_metric([brand.slug], failed)
        yield executions
        yield errors


def script_run_counts() -> dict[tuple[int, bool], int]:
    """{(brand id, ok): runs}, in one aggregate query."""
    rows = ScriptRun.objects.order_by().values_list("brand_id", "ok").annotate(n=Count("id"))
    return {(brand_id, ok): n for brand_id, ok, n in rows}


def metrics_text() -> bytes:
    """The Prometheus text exposition for every brand (two queries, one Redis pipeline)."""
    brands = list(Brand.objects.select_related("quota").order_by("slug"))
    try:
        usage = brands_usage(brands)
    except CacheUnavailable:
        # Still answer: the script counters come from the database, and cacheadmin_redis_up 0
        # is itself what an alert wants to see.
        usage = None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BrandCollector(brands, usage, script_run_counts()))
    return generate_latest(registry)
