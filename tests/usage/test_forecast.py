"""The forecast (brands/usage/forecast.py) on synthetic series with known answers, through the
database's aggregate query as the pages use it, and as record_usage stores it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from brands.cache import BrandCache
from brands.models import UsageSnapshot
from brands.usage import brand_forecast, time_left_words, usage_snapshots_record
from brands.usage.forecast import (
    HORIZON,
    MIN_SNAPSHOTS,
    MIN_SPAN,
    REASON_BEYOND_HORIZON,
    REASON_NOT_GROWING,
    REASON_REACHED,
    REASON_TOO_LITTLE,
    TrendSums,
    forecast_from_sums,
    window_sums,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def series(brand, values, *, every=timedelta(hours=1), end=NOW):
    """Snapshots with the given live counts, the last one at ``end``."""
    count = len(values)
    UsageSnapshot.objects.bulk_create(
        UsageSnapshot(brand=brand, taken_at=end - (count - 1 - i) * every, live_keys=value,
                      max_keys=brand.quota.max_keys)
        for i, value in enumerate(values)
    )


@pytest.fixture
def limited(brand_factory):
    return brand_factory(max_keys=1000)


def test_linear_growth_gives_the_exact_date(limited):
    # 100 keys at 72 hours ago, +10 keys an hour: 1000 is reached 90 hours after the first
    # snapshot, i.e. 18 hours after NOW.
    series(limited, [100 + 10 * h for h in range(73)])
    forecast = brand_forecast(limited, live_keys=820, now=NOW)
    assert forecast.reason == ""
    assert abs((forecast.reaches_at - (NOW + timedelta(hours=18))).total_seconds()) < 1
    assert forecast.per_day == pytest.approx(240)
    assert forecast.snapshots == 73
    assert forecast.words(NOW) == "in about 18 hours"


def test_linear_growth_days_away(limited):
    # +24 keys a day, one snapshot an hour over 7 days, 400 now: 600 keys to go = 25 days.
    values = [400 - 168 + h for h in range(169)]
    series(limited, values)
    forecast = brand_forecast(limited, live_keys=400, now=NOW)
    assert abs((forecast.reaches_at - (NOW + timedelta(days=25))).total_seconds()) < 1
    assert forecast.words(NOW) == "in about 25 days"


def test_flat_series_has_no_forecast(limited):
    series(limited, [500] * 48)
    forecast = brand_forecast(limited, live_keys=500, now=NOW)
    assert forecast.reaches_at is None and forecast.reason == REASON_NOT_GROWING
    assert forecast.per_day == pytest.approx(0)
    assert "flat or falling" in forecast.reason_text and forecast.words(NOW) == ""


def test_falling_series_has_no_forecast(limited):
    series(limited, [900 - 5 * h for h in range(48)])
    forecast = brand_forecast(limited, live_keys=665, now=NOW)
    assert forecast.reaches_at is None and forecast.reason == REASON_NOT_GROWING
    assert forecast.per_day == pytest.approx(-120)


@pytest.mark.parametrize(
    ("count", "every"),
    [
        (0, timedelta(hours=1)),
        (MIN_SNAPSHOTS - 1, timedelta(hours=3)),  # long enough, too few
        (60, timedelta(minutes=5)),  # many, but 4 h 55 min: shorter than MIN_SPAN
    ],
)
def test_too_little_data(limited, count, every):
    series(limited, [100 + 50 * i for i in range(count)], every=every)
    forecast = brand_forecast(limited, live_keys=100, now=NOW)
    assert forecast.reaches_at is None and forecast.reason == REASON_TOO_LITTLE
    assert forecast.snapshots == count
    assert "too little data" in forecast.reason_text


def test_the_minimum_is_enough(limited):
    # Exactly MIN_SNAPSHOTS spanning exactly MIN_SPAN.
    every = MIN_SPAN / (MIN_SNAPSHOTS - 1)
    series(limited, [100 + 10 * i for i in range(MIN_SNAPSHOTS)], every=every)
    assert brand_forecast(limited, live_keys=150, now=NOW).reaches_at is not None


def test_noisy_growth_lands_near_the_true_date(limited):
    # +3 keys an hour (96 keys a week ago, 600 now) with +-8 % noise around the line, a week
    # of 10-minute snapshots: the true line reaches 1000 keys 133 h 20 min after NOW.
    rng = random.Random(12)
    count = 7 * 24 * 6
    line = [600 - 3 * (count - 1 - i) / 6 for i in range(count)]
    series(limited, [round(v * rng.uniform(0.92, 1.08)) for v in line], every=timedelta(minutes=10))
    forecast = brand_forecast(limited, live_keys=600, now=NOW)
    true_date = NOW + timedelta(hours=133, minutes=20)
    assert abs((forecast.reaches_at - true_date).total_seconds()) / 3600 < 6  # hours, of 133
    assert forecast.per_day == pytest.approx(72, rel=0.05)
    assert forecast.words(NOW) == "in about 6 days"


def test_only_the_last_seven_days_count(limited):
    # A fall 8 to 10 days ago, then growth: only the growth is in the window.
    series(limited, [900 - 10 * h for h in range(48)], end=NOW - timedelta(days=8))
    series(limited, [100 + 10 * h for h in range(73)])
    forecast = brand_forecast(limited, live_keys=820, now=NOW)
    assert forecast.snapshots == 73
    assert abs((forecast.reaches_at - (NOW + timedelta(hours=18))).total_seconds()) < 1


def test_slow_growth_beyond_the_horizon(limited):
    series(limited, [100 + (h // 24) for h in range(169)])  # one key a day: 893 days to go
    forecast = brand_forecast(limited, live_keys=107, now=NOW)
    assert forecast.reaches_at is None and forecast.reason == REASON_BEYOND_HORIZON
    assert f"more than {HORIZON.days} days" in forecast.reason_text


def test_at_the_limit_already(limited):
    series(limited, [900 + 10 * h for h in range(12)])
    forecast = brand_forecast(limited, live_keys=1000, now=NOW)
    assert forecast.reaches_at is None and forecast.reason == REASON_REACHED


def test_a_line_past_the_limit_with_a_live_count_below_it_means_now(limited):
    # The line reaches 1000 at NOW - 2 h; the live count has dropped to 990.
    series(limited, [920 + 10 * h for h in range(8)], end=NOW - timedelta(hours=3))
    forecast = brand_forecast(limited, live_keys=990, now=NOW)
    assert forecast.reaches_at == NOW
    assert forecast.words(NOW) == "within the hour"


def test_the_current_limit_counts(limited):
    series(limited, [100 + 10 * h for h in range(73)])
    limited.quota.max_keys = 2000  # raised after the snapshots were taken
    limited.quota.save()
    forecast = brand_forecast(limited, live_keys=820, now=NOW)
    assert abs((forecast.reaches_at - (NOW + timedelta(hours=118))).total_seconds()) < 1


def test_database_sums_equal_python_sums(brand_factory):
    a, b = brand_factory(max_keys=1000), brand_factory(max_keys=1000)
    series(a, [3, 1, 4, 1, 5, 9, 2, 6], every=timedelta(minutes=37))
    series(b, [10, 20], end=NOW - timedelta(hours=5))
    sums = window_sums(None, now=NOW)
    origin = NOW - timedelta(days=7)
    for brand in (a, b):
        rows = UsageSnapshot.objects.filter(brand=brand).values_list("taken_at", "live_keys")
        expected = TrendSums.of(origin, rows)
        got = sums[brand.pk]
        assert (got.n, got.first, got.last) == (expected.n, expected.first, expected.last)
        for name in ("sx", "sy", "sxx", "sxy"):
            assert getattr(got, name) == pytest.approx(getattr(expected, name), rel=1e-9)
    assert window_sums([b.pk], now=NOW).keys() == {b.pk}


def test_pure_function_on_sums():
    origin = NOW - timedelta(days=7)
    sums = TrendSums.of(origin, [(origin + timedelta(days=d), 100 * d) for d in range(7)])
    forecast = forecast_from_sums(sums, max_keys=1000, live_keys=600, now=origin + timedelta(days=6))
    assert forecast.reaches_at == origin + timedelta(days=10)
    assert forecast_from_sums(TrendSums(origin=origin), max_keys=10, live_keys=0, now=NOW).reason == \
        REASON_TOO_LITTLE


@pytest.mark.parametrize(
    ("left", "words"),
    [
        (timedelta(0), "within the hour"),
        (timedelta(minutes=59), "within the hour"),
        (timedelta(minutes=61), "in about 1 hour"),
        (timedelta(hours=35), "in about 35 hours"),
        (timedelta(hours=40), "in about 2 days"),
        (timedelta(days=4, hours=2), "in about 4 days"),
        (timedelta(days=59), "in about 59 days"),
        (timedelta(days=61), "in about 2 months"),
        (timedelta(days=300), "in about 10 months"),
    ],
)
def test_time_left_words(left, words):
    assert time_left_words(left) == words


def test_record_usage_stores_the_forecast_on_the_snapshot(limited, brand_factory):
    idle = brand_factory(max_keys=1000)
    series(limited, [100 + 10 * h for h in range(73)], end=NOW - timedelta(hours=1))
    series(idle, [5] * 73, end=NOW - timedelta(hours=1))
    cache = BrandCache.for_brand(limited)
    for i in range(830):  # the line's value at NOW
        assert cache.set(f"k{i}", i)
    usage_snapshots_record(now=NOW)
    recorded = UsageSnapshot.objects.get(brand=limited, taken_at=NOW)
    assert recorded.live_keys == 830
    # The new point is on the line: 1000 is still 17 hours away.
    assert abs((recorded.limit_at - (NOW + timedelta(hours=17))).total_seconds()) < 1
    # The usage page says the same, from the same snapshots.
    assert abs((brand_forecast(limited, live_keys=830, now=NOW).reaches_at - recorded.limit_at)
               .total_seconds()) < 1
    assert UsageSnapshot.objects.get(brand=idle, taken_at=NOW).limit_at is None
