"""Create the demo brand and user for ``make run``. Safe to run again: it changes nothing that
already exists (the password is printed once, when the user is created)."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from brands.cache import BrandCache, CacheUnavailable
from brands.models import Brand, Membership

DEMO_SLUG = "demo"
DEMO_USERNAME = "demo"

# Keys in the shapes the product documentation uses. Written with setIfAbsent semantics: a rerun
# restores keys that have expired (every key has a TTL of at most an hour) and changes none that
# are still there.
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


class Command(BaseCommand):
    help = "Create the demo brand, a demo admin user and a few sample keys (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        brand, brand_created = Brand.objects.get_or_create(
            slug=DEMO_SLUG, defaults={"name": "Demo brand"}
        )
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(12)
            user = User.objects.create_user(DEMO_USERNAME, password=password)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo user created. Log in as '{DEMO_USERNAME}' with password: {password}"
                )
            )
        else:
            self.stdout.write(f"Demo user '{DEMO_USERNAME}' already exists (password unchanged).")
        Membership.objects.get_or_create(
            user=user, brand=brand, defaults={"role": Membership.Role.ADMIN}
        )
        self.stdout.write(f"Demo brand '{DEMO_SLUG}' {'created' if brand_created else 'ready'}.")
        self._seed_keys(brand)

    def _seed_keys(self, brand: Brand) -> None:
        cache = BrandCache.for_brand(brand, raise_unavailable=True)
        try:
            written = sum(cache.set_if_absent(key, value) for key, value in SAMPLE_KEYS.items())
        except CacheUnavailable:
            self.stderr.write("Redis is unavailable: sample keys were not written.")
            return
        self.stdout.write(f"Sample keys: {written} written, {len(SAMPLE_KEYS) - written} already there.")
