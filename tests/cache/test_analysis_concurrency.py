"""The exact analysis stays exact with several processes writing the same keys at once."""

from __future__ import annotations

import pytest

from brands.cache import BrandCache
from tests.cache import analysis_workers
from tests.cache.analysis_support import assert_analysis_matches
from tests.cache.test_concurrency import run_all

pytestmark = pytest.mark.concurrency


def test_analysis_is_exact_under_concurrent_writers(brand_factory):
    brand = brand_factory(max_keys=5000, max_value_bytes=4000, max_ttl=3600)
    done = run_all(analysis_workers.random_writes, brand, 400)
    assert sorted(done) == list(range(len(done)))
    cache = BrandCache.for_brand(brand, raise_unavailable=True)
    assert cache.live_count() > 20
    assert_analysis_matches(cache)
