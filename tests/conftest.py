"""Shared fixtures: real Redis (embedded, or REDIS_URL), real database, clean brands.

The suite never flushes a Redis database. Every session stores brand keys under its own random
prefix (cacheadmin.settings_test). After each test, the keys of every brand the test created or
touched are deleted through that brand's own indexes, so the cost follows the test's data, not the
size of a shared server; at the end of the session one sweep removes anything left under the
session prefix, which is exactly what the tests created.
"""

from __future__ import annotations

import contextlib
import itertools

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import post_save

from brands.cache import (
    UNAVAILABLE_ERRORS,
    BrandCache,
    BrandKeys,
    CacheLimits,
    CacheUnavailable,
    discard_op_counts,
    redis_client,
)
from brands.models import Brand, Membership
from brands.scripting import get_pool, shutdown_pool
from tests.support.dead_redis import DEAD_REDIS_CACHES

_counter = itertools.count(1)


def delete_session_keys() -> int:
    """Delete every key under this test session's prefix (never anything else). On Redis
    Cluster the client's scan_iter visits every primary and unlink splits the keys by slot."""
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


# Brand ids whose keys a test may have written: brands created in this process (post_save) and
# any brand id the cache layout was asked about (BrandKeys.for_brand, used by every BrandCache).
_touched_brand_ids: set[int] = set()


def _remember_created_brand(sender, instance, created, **kwargs) -> None:
    if created:
        _touched_brand_ids.add(int(instance.pk))


@pytest.fixture(scope="session", autouse=True)
def _track_touched_brands():
    original = BrandKeys.for_brand.__func__

    def tracking(cls, brand_id):
        _touched_brand_ids.add(int(brand_id))
        return original(cls, brand_id)

    BrandKeys.for_brand = classmethod(tracking)
    post_save.connect(_remember_created_brand, sender=Brand, dispatch_uid="tests-touched-brands")
    yield
    post_save.disconnect(sender=Brand, dispatch_uid="tests-touched-brands")
    BrandKeys.for_brand = classmethod(original)
    with contextlib.suppress(*UNAVAILABLE_ERRORS):
        # The safety net: anything written around the tracked brands. Reported, because a
        # leftover here could have leaked into a later test that reused the brand id.
        _swept.append(delete_session_keys())


_swept: list[int] = []


def pytest_terminal_summary(terminalreporter) -> None:
    if _swept and _swept[0]:
        terminalreporter.write_line(
            f"note: {_swept[0]} Redis keys outside the tracked brands were swept at session end"
        )


def delete_brand_keys(brand_id: int) -> None:
    """Every key of one brand: values listed in its name index, then the indexes themselves."""
    limits = CacheLimits(max_keys=1, max_value_bytes=1, default_ttl=1, max_ttl=1)
    BrandCache(brand_id, limits).delete_all()


@pytest.fixture(autouse=True)
def _clean_brand_keys():
    """Brand ids can be reused after a test's transaction rolls back (SQLite), so every brand a
    test touched ends the test with no keys."""
    yield
    # Operation counts a test made outside a request or script run, never flushed, must not
    # land in a later test's brand that reuses the id.
    discard_op_counts()
    touched = sorted(_touched_brand_ids)
    # A test that made Redis unreachable on purpose leaves the cleanup to the next test. The ids
    # are forgotten only after their keys are gone, and only then: deleting a brand's keys goes
    # through BrandKeys.for_brand, which marks it touched again, so clearing the set before the
    # loop kept every brand of the session in it (with PostgreSQL's ids never reused, each test's
    # teardown deleted every brand made so far: seconds a test late in CI's run 2).
    with contextlib.suppress(*UNAVAILABLE_ERRORS, CacheUnavailable):
        for brand_id in touched:
            delete_brand_keys(brand_id)
        _touched_brand_ids.difference_update(touched)


@pytest.fixture
def dead_redis(settings):
    """Redis unreachable for the rest of the test (Django's setting_changed signal drops the
    cache handlers bound to the real server, and restores them afterwards)."""
    settings.CACHES = DEAD_REDIS_CACHES


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


@pytest.fixture
def brand_admin(brand, member_factory):
    """An admin (read and write) of the test's brand."""
    return member_factory(brand, Membership.Role.ADMIN)


@pytest.fixture
def admin_client(client, brand_admin):
    """The test client, logged in as the brand's admin."""
    client.force_login(brand_admin)
    return client


@pytest.fixture
def cache(brand) -> BrandCache:
    """The test brand's cache service (soft failures, as scripts see it)."""
    return BrandCache.for_brand(brand)


@pytest.fixture(scope="session")
def script_pool():
    """The process's default script pool (settings.SCRIPT_WORKERS real worker processes),
    started once for the whole session and stopped at its end."""
    pool = get_pool()
    yield pool
    shutdown_pool()
