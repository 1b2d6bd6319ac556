"""The usage page's exact analysis section and the prefix figures (issue 12), through the test
client: what is shown, who may see it, and bad input answered with a message, never a 500."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from brands.cache import BrandCache, BrandKeys, fill_brand_layout, redis_client
from brands.models import Membership
from tests.views.test_usage import as_user


def usage_url(brand) -> str:
    return reverse("usage", args=[brand.slug])


def prefix_url(brand) -> str:
    return reverse("usage-prefix", args=[brand.slug])


@pytest.fixture
def filled(brand):
    cache = BrandCache.for_brand(brand)
    cache.set("user:1", "x" * 300, 30)  # 302 bytes, expires within a minute
    cache.set("user:2", "y" * 10, 200)  # 12 bytes, 1-5 min
    cache.set("cart:9", {"items": [1, 2, 3]}, 1000)  # 1 of 15-60 min
    cache.set("solo", 5, 3600)
    return cache


def test_page_shows_histograms_biggest_keys_and_namespaces(client, brand, member_factory, filled):
    client.force_login(member_factory(brand, role=Membership.Role.VIEWER))
    html = client.get(usage_url(brand)).content.decode()
    section = html[html.index('id="usage-analysis"'):]
    for heading in ("Value sizes", "Expiring", "Biggest keys", "Namespaces by keys", "Namespaces by bytes",
                    "Any prefix"):
        assert heading in section
    # Size histogram rows: "up to 16 B" holds user:2 (12 B), cart:9 (17 B) is in 17-32, solo (1 B).
    rows = dict(re.findall(r'<tr><td class="nowrap">([^<]+)</td><td class="num">(\d+)</td>', section))
    assert rows["up to 16 B"] == "2" and rows["17 B – 32 B"] == "1" and rows["257 B – 512 B"] == "1"
    assert "1 KiB" not in " ".join(rows)  # shown up to the bucket of the 512-byte value limit
    assert rows["within 1 min"] == "1" and rows["1 min – 5 min"] == "1" and rows["15 min – 1 hour"] == "2"
    # The biggest first, each a link to its key page.
    biggest = re.findall(
        r'<a href="([^"]+)"><code>([^<]+(?:<wbr>[^<]*)*)</code></a></td><td class="num">(\d+) B', section)
    assert [(href, size) for href, _name, size in biggest][:2] == [
        (reverse("key-detail", args=[brand.slug, "user:1"]), "302"),
        (reverse("key-detail", args=[brand.slug, "cart:9"]), "17"),
    ]
    by_bytes = section[section.index("Namespaces by bytes"):]
    assert by_bytes.index("<code>user:</code>") < by_bytes.index("<code>cart:</code>")
    assert "4 keys, 332\xa0bytes of JSON text" in html


def test_keys_written_before_the_accounting_are_announced(client, brand, member_factory):
    keys = BrandKeys.for_brand(brand.pk)
    fill_brand_layout(redis_client(), keys, ["old:1", "old:2"], "1", ttl_ms=60_000, index_ttl_ms=600_000)
    client.force_login(member_factory(brand))
    html = client.get(usage_url(brand)).content.decode()
    assert "2 keys written before exact analysis existed are not counted" in html
    assert f"manage.py cache_analysis upgrade --brand {brand.slug}" in html
    # The stored-bytes card stays true meanwhile (read value by value): 2 x 1 byte.
    assert '<div class="label">Stored (JSON text)</div><div class="value">2\xa0bytes</div>' in html
    BrandCache.for_brand(brand).analysis_upgrade()
    html = client.get(usage_url(brand)).content.decode()
    assert "written before exact analysis" not in html and "2 keys, 2\xa0bytes" in html


def test_prefix_figures_fragment_and_page(client, brand, member_factory, filled):
    client.force_login(member_factory(brand, role=Membership.Role.VIEWER))
    fragment = client.get(prefix_url(brand), {"prefix": "user:"}, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div id="prefix-figures"')
    assert "<strong>2</strong> live keys start with" in fragment and "314\xa0bytes" in fragment
    page = client.get(prefix_url(brand), {"prefix": "cart:9"}).content.decode()
    assert "<html" in page and "<strong>1</strong> live key starts with" in page


@pytest.mark.parametrize("bad", ["a b", "<script>alert(1)</script>", "x" * 5000, "{1}:", "é", "a\x00b", ""])
def test_bad_prefixes_get_a_clear_message(client, brand, member_factory, filled, bad):
    client.force_login(member_factory(brand))
    response = client.get(prefix_url(brand), {"prefix": bad}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html
    assert ("Invalid prefix" in html) or ("Enter the start of a key name" in html)
    assert "<script>alert" not in html
    assert len(html) < 2000  # a long input is not echoed whole


@pytest.mark.parametrize(
    ("who", "status"),
    [("anonymous", 302), ("non-member", 404), ("viewer", 200), ("admin", 200), ("staff", 200)],
)
def test_prefix_figures_check_brand_access(client, brand, member_factory, user_factory, staff_user, who,
                                           status):
    as_user(client, who, brand, member_factory, user_factory, staff_user)
    assert client.get(prefix_url(brand), {"prefix": "a"}).status_code == status
    assert client.post(prefix_url(brand), {"prefix": "a"}).status_code in {302, 403, 404, 405}


def test_prefix_figures_never_count_another_brand(client, brand_factory, member_factory):
    mine, theirs = brand_factory("mine"), brand_factory("theirs")
    BrandCache.for_brand(theirs).set("shared:1", json.dumps("secret"))
    client.force_login(member_factory(mine))
    html = client.get(prefix_url(mine), {"prefix": "shared:"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<strong>0</strong> live keys" in html
