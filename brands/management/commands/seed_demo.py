"""Create the demo brand and user for ``make run``. Safe to run again: it changes nothing that
already exists (the password is printed once, when the user is created)."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from brands.models import Brand, Membership

DEMO_SLUG = "demo"
DEMO_USERNAME = "demo"


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
