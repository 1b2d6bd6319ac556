"""The usage page's forecast section (templates/brands/_usage_forecast.html)."""

from __future__ import annotations

import re
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from brands.cache import BrandCache
from brands.models import Membership, UsageSnapshot


def usage_html(client, brand, member_factory, **params) -> str:
    client.force_login(member_factory(brand, role=Membership.Role.VIEWER))
    response = client.get(reverse("usage", args=[brand.slug]), params)
    assert response.status_code == 200
    return response.content.decode()


def grow(brand, *, start: int, per_hour: int, hours: int) -> None:
    now = timezone.now()
    UsageSnapshot.objects.bulk_create(
        UsageSnapshot(brand=brand, taken_at=now - timedelta(hours=hours - h), live_keys=start + per_hour * h,
                      max_keys=brand.quota.max_keys)
        for h in range(hours + 1)
    )


def test_a_growing_brand_gets_a_date_in_plain_words(client, brand_factory, member_factory):
    brand = brand_factory(max_keys=100)
    # +1 key an hour for 2 days up to 50 now: 50 keys to go, about 2 days.
    grow(brand, start=2, per_hour=1, hours=48)
    cache = BrandCache.for_brand(brand)
    for i in range(50):
        assert cache.set(f"k{i}", i)
    html = usage_html(client, brand, member_factory)
    assert "At this rate the limit is reached <strong>in about 2 days</strong>" in html  # 50 hours
    assert re.search(r'<time datetime="[^"]+" data-local>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</time>', html)
    assert "about 24 more keys a day" in html and "49 usage snapshots" in html


def test_no_forecast_without_enough_snapshots(client, brand, member_factory):
    html = usage_html(client, brand, member_factory)
    assert 'id="forecast-heading"' in html
    assert "No forecast: too little data" in html and "At this rate" not in html


def test_no_forecast_when_flat(client, brand_factory, member_factory):
    brand = brand_factory(max_keys=100)
    grow(brand, start=0, per_hour=0, hours=24)
    html = usage_html(client, brand, member_factory)
    assert "No forecast: the key count is flat or falling over the last 7 days." in html


def test_the_chart_fragment_leaves_the_forecast_alone(client, brand, member_factory):
    client.force_login(member_factory(brand, role=Membership.Role.VIEWER))
    response = client.get(reverse("usage", args=[brand.slug]), {"period": "24h"}, HTTP_HX_REQUEST="true")
    assert "forecast-heading" not in response.content.decode()
