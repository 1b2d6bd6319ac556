"""``manage.py cache_analysis``: the upgrade of keys written before the exact analysis, and the
check against a recount."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from brands.cache import BrandCache, BrandKeys, fill_brand_layout, redis_client


def run(*args: str) -> str:
    out = StringIO()
    call_command("cache_analysis", *args, stdout=out)
    return out.getvalue()


def test_upgrade_then_check(brand_factory):
    old, new = brand_factory("old-data"), brand_factory("new-data")
    names = [f"n:{i}" for i in range(30)]
    fill_brand_layout(redis_client(), BrandKeys.for_brand(old.pk), names, '"abc"', ttl_ms=600_000,
                      index_ttl_ms=3_600_000)
    BrandCache.for_brand(new).set("a", 1)
    with pytest.raises(CommandError, match="1 brand disagree"):
        run("check")
    output = run("upgrade", "--batch", "7")
    assert "new-data: 0 keys upgraded; complete." in output
    assert "old-data: 30 keys upgraded; complete." in output
    assert "old-data: 0 keys upgraded" in run("upgrade", "--brand", "old-data")
    checked = run("check")
    assert "old-data: OK: 30 live keys, 150 bytes kept, 150 bytes read" in checked
    assert "new-data: OK" in checked


@pytest.mark.parametrize(("args", "message"), [
    (("upgrade", "--brand", "nope"), "No brand with the slug 'nope'"),
    (("upgrade", "--batch", "0"), "--batch must be from 1 to 10000"),
])
def test_bad_arguments(db, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
