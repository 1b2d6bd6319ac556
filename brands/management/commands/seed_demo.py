"""Create the demo brand and user for ``make run``; run again on every ``make run``.

Idempotent, and it keeps the demo alive rather than frozen: the sample keys get fresh TTLs on
every run (values a user changed are kept; expired keys come back), the demo brand has a week of
hourly usage snapshots (hours already recorded are left alone), and the demo password is
printed when the user is created and reset from ``DEMO_PASSWORD`` on a rerun when it is set.
"""

from __future__ import annotations

import math
import os
import random
import secrets
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from brands.cache import BrandCache, CacheUnavailable
from brands.models import Brand, Membership, UsageSnapshot

DEMO_SLUG = "demo"
DEMO_USERNAME = "demo"

# The demo's keys live a day (the default quota's one-hour maximum would leave an empty demo
# an hour after `make run`); the rate-limit counter keeps its short, realistic TTL.
DEMO_MAX_TTL = 86_400
SNAPSHOT_DAYS = 7

# Keys in the shapes the product documentation uses, with their TTL in seconds.
SAMPLE_KEYS = {
    "page:home:views": 42,
    "page:pricing:views": 7,
    "page:docs:views": 19,
    "last_visit": "2026-11-26T09:30:00.000Z",
    "onboarding_complete": True,
    # "@" is not a key character: the documentation's e-mail dedup example needs the address encoded.
    "email_sent:alice_at_example.com": True,
    "email_sent:bob_at_example.com": True,
    "user:1001:profile": {"name": "Alice", "plan": "pro", "tags": ["beta", "newsletter"]},
    "user:1002:profile": {"name": "Bob", "plan": "free", "tags": []},
    "feature:flags": {"new_checkout": True, "dark_mode": False},
    "rate:api:203.0.113.7": 3,
}
SHORT_TTL_KEYS = {"rate:api:203.0.113.7": 600}


def sample_ttl(key: str) -> int:
    return SHORT_TTL_KEYS.get(key, DEMO_MAX_TTL)


def snapshot_curve(at: datetime, hours_ago: int, *, now_value: int, total_hours: int) -> int:
    """Live keys at ``at`` (``hours_ago`` hours back): growing over the week towards
    ``now_value``, with a daily rhythm (busier in the afternoon, UTC) and a little noise that is
    the same for the same hour on every run."""
    growth = 0.55 + 0.45 * (1 - hours_ago / max(total_hours, 1))
    daily = 1 + 0.12 * math.sin((at.hour - 9) / 24 * 2 * math.pi)
    noise = 1 + random.Random(int(at.timestamp()) // 3600).uniform(-0.04, 0.04)
    return max(0, round(now_value * growth * daily * noise))


def fill_snapshots(brand: Brand, *, now_value: int, days: int = SNAPSHOT_DAYS,
                   bytes_per_key: int = 60) -> int:
    """One snapshot per hour for the last ``days`` days, on the hour; hours that already have a
    snapshot are skipped, so a rerun adds only the hours since the last run. Returns how many
    were created."""
    top = timezone.now().replace(minute=0, second=0, microsecond=0)
    total = days * 24
    start = top - timedelta(hours=total)
    recorded = UsageSnapshot.objects.filter(brand=brand, taken_at__gte=start)
    taken: set[datetime] = {
        at.replace(minute=0, second=0, microsecond=0)
        for at in recorded.values_list("taken_at", flat=True)
    }
    rows = []
    for hours_ago in range(total, -1, -1):
        at = top - timedelta(hours=hours_ago)
        if at in taken:
            continue
        live = snapshot_curve(at, hours_ago, now_value=now_value, total_hours=total)
        rows.append(UsageSnapshot(
            brand=brand, taken_at=at, live_keys=live, max_keys=brand.quota.max_keys,
            stored_bytes=live * bytes_per_key, refused_writes=(total - hours_ago) // 40,
        ))
    UsageSnapshot.objects.bulk_create(rows)
    return len(rows)


class Command(BaseCommand):
    help = "Create or refresh the demo brand, its admin user, sample keys and a week of usage snapshots."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        brand, brand_created = Brand.objects.get_or_create(
            slug=DEMO_SLUG, defaults={"name": "Demo brand"}
        )
        if brand.quota.max_ttl < DEMO_MAX_TTL:
            brand.quota.max_ttl = DEMO_MAX_TTL
            brand.quota.save(update_fields=["max_ttl"])
        self._user(brand)
        self.stdout.write(f"Demo brand '{DEMO_SLUG}' {'created' if brand_created else 'ready'}.")
        self._seed_keys(brand)
        created = fill_snapshots(brand, now_value=len(SAMPLE_KEYS))
        self.stdout.write(f"Usage snapshots: {created} added (one per hour, last {SNAPSHOT_DAYS} days).")

    def _user(self, brand: Brand) -> None:
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USERNAME).first()
        chosen = os.environ.get("DEMO_PASSWORD")
        if user is None:
            password = chosen or secrets.token_urlsafe(12)
            user = User.objects.create_user(DEMO_USERNAME, password=password)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo user created. Log in as '{DEMO_USERNAME}' with password: {password}"
                )
            )
        elif chosen:
            user.set_password(chosen)
            user.save(update_fields=["password"])
            self.stdout.write(f"Demo user '{DEMO_USERNAME}': password set from DEMO_PASSWORD.")
        else:
            self.stdout.write(
                f"Demo user '{DEMO_USERNAME}' already exists (password unchanged). To reset it: "
                f"DEMO_PASSWORD=<new password> make run, or python manage.py changepassword {DEMO_USERNAME}"
            )
        Membership.objects.get_or_create(
            user=user, brand=brand, defaults={"role": Membership.Role.ADMIN}
        )

    def _seed_keys(self, brand: Brand) -> None:
        """Every sample key gets a fresh TTL through the cache service: a key that is still there
        keeps its value (a demo user's edit survives), an expired one gets the sample value."""
        cache = BrandCache.for_brand(brand, raise_unavailable=True)
        written = refreshed = 0
        try:
            for key, value in SAMPLE_KEYS.items():
                current = cache.get_json(key)
                if current is not None and cache.set_json(key, current, sample_ttl(key)):
                    refreshed += 1
                elif cache.set(key, value, sample_ttl(key)):
                    written += 1
        except CacheUnavailable:
            self.stderr.write("Redis is unavailable: sample keys were not written.")
            return
        self.stdout.write(f"Sample keys: {written} written, {refreshed} refreshed (TTLs renewed).")
