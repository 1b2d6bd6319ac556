"""Usage levels (brands/usage/levels.py): the one percentage, thresholds and bar width."""

from __future__ import annotations

import pytest

from brands.cache import BrandCache
from brands.usage import (
    BrandUsage,
    bar_percent,
    brands_usage,
    level_word,
    percent_text,
    percent_used,
    usage_level,
)


@pytest.mark.parametrize(
    ("live", "limit", "percent"),
    [(0, 100, 0.0), (1, 3, 100 / 3), (50_000, 50_000, 100.0), (120, 100, 120.0), (5, 0, 0.0)],
)
def test_percent_used(live, limit, percent):
    assert percent_used(live, limit) == pytest.approx(percent)


@pytest.mark.parametrize(
    ("percent", "level"),
    [(0, "ok"), (79.99, "ok"), (80, "warning"), (94.99, "warning"), (95, "critical"), (100, "critical"),
     (100.01, "over"), (250, "over")],
)
def test_levels_at_the_thresholds(percent, level):
    assert usage_level(percent) == level


@pytest.mark.parametrize(
    ("percent", "text", "word"),
    [(0, "0.0 %", ""), (9.6, "9.6 %", ""), (9.97, "9.9 %", ""), (79.99, "79.9 %", ""),
     (80, "80.0 %", "near limit"), (95, "95.0 %", "critical"), (99.96, "99.9 %", "critical"),
     (100, "100.0 %", "critical"), (100.02, "100.1 %", "over limit"), (125, "125.0 %", "over limit")],
)
def test_one_rounding_and_one_word_per_level(percent, text, word):
    """The figure never contradicts the level: rounded toward the threshold not yet crossed."""
    assert percent_text(percent) == text
    assert level_word(usage_level(percent)) == word


@pytest.mark.parametrize(
    ("percent", "width"), [(-5, 0.0), (0, 0.0), (42.5, 42.5), (100, 100.0), (180, 100.0)]
)
def test_bar_never_leaves_its_track(percent, width):
    assert bar_percent(percent) == width


def test_brand_usage_properties():
    usage = BrandUsage(live_keys=96, max_keys=100, refused_writes=3)
    assert (usage.percent, usage.level, usage.bar_percent) == (96.0, "critical", 96.0)
    over = BrandUsage(live_keys=150, max_keys=100, refused_writes=0)
    assert (over.percent, over.bar_percent) == (150.0, 100.0)
    assert (over.level, over.word, over.percent_text) == ("over", "over limit", "150.0 %")


def test_brands_usage_reads_redis_and_the_quota(brand_factory):
    small, empty = brand_factory(max_keys=2), brand_factory()
    cache = BrandCache.for_brand(small)
    assert cache.set("a", 1) and cache.set("b", 2)
    assert cache.set("c", 3) is False  # refused by the limit of 2
    usage = brands_usage([small, empty])
    assert usage == {
        small.pk: BrandUsage(live_keys=2, max_keys=2, refused_writes=1),
        empty.pk: BrandUsage(live_keys=0, max_keys=50_000, refused_writes=0),
    }
