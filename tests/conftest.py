"""Shared fixtures: real Redis (embedded, or REDIS_URL), real database, clean brands.

The suite never flushes a Redis database. Every session stores brand keys under its own random
prefix (cacheadmin.settings_test), and after each test the keys under that prefix are removed,
which are exactly the keys the tests created.
"""

from __future__ import annotations

import contextlib
import itertools

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from brands.cache.connection import UNAVAILABLE_ERRORS, redis_client
from brands.models import Brand, Membership

_counter = itertools.count(1)


def delete_session_keys() -> int:
    """Delete every key under this test session's prefix (never anything else)."""
    client = redis_client()
    deleted = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"{settings.CACHEADMIN_KEY_PREFIX}:*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            deleted += client.unlink(*batch)
            batch.clear()
    if batch:
        deleted += client.unlink(*batch)
    return deleted


@pytest.fixture(autouse=True)
def _clean_brand_keys():
    """Brand ids can be reused after a test's transaction rolls back (SQLite), so each test
    starts and ends with no keys under the session prefix."""
    yield
    # A test that made Redis unreachable on purpose leaves the cleanup to the next test.
    with contextlib.suppress(UNAVAILABLE_ERRORS):
        delete_session_keys()


@pytest.fixture
def brand_factory(db):
    def make(slug: str | None = None, name: str | None = None, **quota) -> Brand:
        slug = slug or f"brand-{next(_counter)}"
        brand = Brand.objects.create(slug=slug, name=name or slug.replace("-", " ").title())
        if quota:
            for field, value in quota.items():
                setattr(brand.quota, field, value)
            brand.quota.full_clean()
            brand.quota.save()
        return brand

    return make


@pytest.fixture
def brand(brand_factory) -> Brand:
    return brand_factory()


@pytest.fixture
def user_factory(db):
    def make(username: str | None = None, *, staff: bool = False, password: str = "pw-test-123"):
        username = username or f"user{next(_counter)}"
        return get_user_model().objects.create_user(
            username, password=password, is_staff=staff
        )

    return make


@pytest.fixture
def member_factory(user_factory):
    def make(brand: Brand, role: str = Membership.Role.ADMIN, username: str | None = None):
        user = user_factory(username)
        Membership.objects.create(user=user, brand=brand, role=role)
        return user

    return make


@pytest.fixture
def staff_user(user_factory):
    return user_factory("staff", staff=True)
