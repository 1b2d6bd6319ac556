"""The models' own rules: quota defaults from one place, limits >= 1, default TTL <= max TTL
(validation and a database constraint), one membership per user and brand."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from brands.models import Membership, QuotaSettings


def test_brand_gets_default_quota_from_settings(brand):
    quota = brand.quota
    for field, value in settings.CACHEADMIN_QUOTA_DEFAULTS.items():
        assert getattr(quota, field) == value
    assert settings.CACHEADMIN_QUOTA_DEFAULTS == {
        "max_keys": 50_000,
        "max_value_bytes": 512,
        "default_ttl": 3600,
        "max_ttl": 3600,
        "max_ops_per_execution": 20,
        "script_timeout_ms": 1000,
        "script_memory_mb": 32,
        "max_concurrent_scripts": 1,
    }


def test_default_ttl_above_max_ttl_is_rejected(brand):
    brand.quota.default_ttl = 7200
    with pytest.raises(ValidationError) as excinfo:
        brand.quota.full_clean()
    assert "default_ttl" in excinfo.value.message_dict


def test_database_constraint_backs_up_ttl_validation(brand):
    with pytest.raises(IntegrityError), transaction.atomic():
        QuotaSettings.objects.filter(pk=brand.quota.pk).update(default_ttl=99999)


@pytest.mark.parametrize(
    "field",
    ["max_keys", "max_value_bytes", "default_ttl", "max_ttl", "max_ops_per_execution",
     "script_timeout_ms", "script_memory_mb"],
)
def test_non_positive_limits_are_rejected(brand, field):
    setattr(brand.quota, field, 0)
    with pytest.raises(ValidationError) as excinfo:
        brand.quota.full_clean()
    assert field in excinfo.value.message_dict


def test_membership_is_unique_per_user_and_brand(brand, user_factory):
    user = user_factory()
    Membership.objects.create(user=user, brand=brand, role="admin")
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=user, brand=brand, role="viewer")
