"""Prometheus metrics for every brand, gathered fresh per scrape.

A new CollectorRegistry per request (never the process-global one): the figures live in Redis
and the database, shared by every worker process, so there is nothing to accumulate in-process
and nothing for one worker's registry to disagree with another's about.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from brands.cache import DURATION_HISTORY, OUTCOMES, CacheUnavailable, brands_ops_totals
from brands.models import Brand
from brands.usage.levels import BrandUsage, brands_usage, percent_value
from brands.usage.ops import brands_ops_metrics
from brands.usage.scripts import ScriptSummary, script_summaries


class BrandCollector(Collector):
    def __init__(self, brands: list[Brand], usage: dict[int, BrandUsage] | None,
                 scripts: dict[int, ScriptSummary] | None,
                 ops: dict[int, dict[str, int]] | None = None) -> None:
        self.brands = brands
        self.usage = usage  # None when Redis is unreachable
        self.scripts = scripts  # likewise
        self.ops = ops  # likewise

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

        if self.scripts is not None:
            yield from script_metrics(self.brands, self.scripts)
        if self.ops is not None:
            yield from brands_ops_metrics(self.brands, self.ops)


def script_metrics(brands: list[Brand], scripts: dict[int, ScriptSummary]) -> Iterator[Metric]:
    """Every execution (console, JSON API, run_script), counted by the scheduler in Redis."""
    executions = CounterMetricFamily(
        "cacheadmin_script_executions", "Script executions by outcome (refusals included).",
        labels=["brand", "outcome"],
    )
    errors = CounterMetricFamily("cacheadmin_script_errors", "Script executions that did not succeed.",
                                 labels=["brand"])
    duration = GaugeMetricFamily(
        "cacheadmin_script_duration_seconds",
        f"Script execution time, quantiles of the latest {DURATION_HISTORY} executions.",
        labels=["brand", "quantile"],
    )
    for brand in brands:
        stats = scripts[brand.pk].stats
        for outcome in OUTCOMES:
            executions.add_metric([brand.slug, outcome], stats.count(outcome))
        errors.add_metric([brand.slug], stats.failures)
        for quantile, value in (("0.5", stats.p50_ms), ("0.95", stats.p95_ms)):
            if value is not None:
                duration.add_metric([brand.slug, quantile], value / 1000)
    yield from (executions, errors, duration)


def metrics_text() -> bytes:
    """The Prometheus text exposition for every brand (one query, three Redis pipelines)."""
    brands = list(Brand.objects.select_related("quota").order_by("slug"))
    try:
        usage = brands_usage(brands)
        scripts = script_summaries(brands)
        ops = brands_ops_totals([brand.pk for brand in brands])
    except CacheUnavailable:
        # Still answer: cacheadmin_redis_up 0 is itself what an alert wants to see.
        usage = scripts = ops = None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BrandCollector(brands, usage, scripts, ops))
    return generate_latest(registry)
