"""Script executions of a brand for the usage page and /metrics: counts by outcome and p50 / p95
duration, from the counters the scheduler records in Redis with every execution (console, JSON
API, run_script), docs/contract.md#fair-scheduling."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from brands.cache import DURATION_HISTORY, OUTCOMES, ScriptStats, brands_script_stats
from brands.models import Brand

# What each outcome means, in the order the page lists them.
OUTCOME_LABELS = {
    "ok": "ran to the end",
    "error": "failed with an error",
    "timeout": "hit the time limit",
    "memory": "hit the memory limit",
    "budget": "refused: the brand's time-limit budget was spent",
    "busy": "refused: another script of the brand was still running",
    "unavailable": "refused: no script worker was free",
}
assert tuple(OUTCOME_LABELS) == OUTCOMES


@dataclass(frozen=True)
class ScriptSummary:
    stats: ScriptStats
    history: int = DURATION_HISTORY

    @property
    def rows(self) -> list[tuple[str, str, int]]:
        return [(outcome, label, self.stats.count(outcome)) for outcome, label in OUTCOME_LABELS.items()]

    @property
    def samples(self) -> int:
        return len(self.stats.durations_ms)


def script_summaries(brands: Iterable[Brand]) -> dict[int, ScriptSummary]:
    """Every brand's script statistics in one Redis round trip; raises CacheUnavailable."""
    return {brand_id: ScriptSummary(stats) for brand_id, stats in
            brands_script_stats(brand.pk for brand in brands).items()}


def script_summary(brand: Brand) -> ScriptSummary:
    return script_summaries([brand])[brand.pk]
