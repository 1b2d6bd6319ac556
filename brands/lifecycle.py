"""Deleting a brand: its cache keys first, through the cache service, then the brand's rows.

The one code path for `manage.py brands delete` and the Django admin (single and bulk delete).
"""

from __future__ import annotations

from django.db import transaction

from brands.cache import BrandCache
from brands.models import Brand


def delete_brand(brand: Brand) -> int:
    """Delete every cache key of ``brand`` (values, indexes, counters), then the brand with its
    quota, memberships, snapshots, script runs and audit entries. Returns how many live keys
    were deleted. Keys go first: when Redis cannot be reached, CacheUnavailable is raised and
    the brand stays, so its keys are never left under an id nobody can reach any more."""
    deleted = BrandCache.for_brand(brand, raise_unavailable=True).delete_all()
    with transaction.atomic():
        brand.delete()
    return deleted
