from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from brands.cache import BrandCache
from brands.models import Membership, UsageSnapshot
from brands.usage import usage_level


def url(brand, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("usage", args=[brand.slug]) + (f"?{query}" if query else "")


def snapshot(brand, hours_ago: float, live: int) -> UsageSnapshot:
    return UsageSnapshot.objects.create(
        brand=brand, taken_at=timezone.now() - timedelta(hours=hours_ago), live_keys=live,
        max_keys=brand.quota.max_keys,
    )


def polyline_points(html: str) -> list[tuple[float, float]]:
    match = re.search(r'<polyline class="series" points="([^"]*)"', html)
    assert match, "no series polyline"
    return [tuple(map(float, pair.split(","))) for pair in match.group(1).split()]


def as_user(client, who, brand, member_factory, user_factory, staff_user):
    if who == "anonymous":
        return
    user = {
        "non-member": lambda: user_factory(),
        "viewer": lambda: member_factory(brand, role=Membership.Role.VIEWER),
        "admin": lambda: member_factory(brand, role=Membership.Role.ADMIN),
        "staff": lambda: staff_user,
    }[who]()
    client.force_login(user)


# ---------------------------------------------------------------- who may see it

@pytest.mark.parametrize(
    ("who", "get_status", "post_status"),
    [
        ("anonymous", 302, 302),  # to the log-in page
        ("non-member", 404, 404),  # a forged slug tells nothing
        ("viewer", 200, 403),  # read-only members never get past the write check
        ("admin", 200, 405),  # the page has nothing to post
        ("staff", 200, 405),
    ],
)
def test_permission_matrix(client, brand, member_factory, user_factory, staff_user, who, get_status,
                           post_status):
    as_user(client, who, brand, member_factory, user_factory, staff_user)
    get = client.get(url(brand))
    assert get.status_code == get_status
    if get_status == 302:
        assert get["Location"].startswith(reverse("login"))
    post = client.post(url(brand))
    assert post.status_code == post_status


def test_unknown_brand_is_404_even_for_staff(client, staff_user, db):
    client.force_login(staff_user)
    assert client.get("/b/no-such-brand/usage/").status_code == 404


def test_no_other_brand_key_names_leak(client, brand_factory, member_factory):
    mine, theirs = brand_factory("mine"), brand_factory("theirs")
    BrandCache.for_brand(mine).set("public:one", 1)
    for i in range(5):
        BrandCache.for_brand(theirs).set(f"topsecretns:key{i}", i)
    BrandCache.for_brand(theirs).set("leafsecret", 1)
    client.force_login(member_factory(mine))
    html = client.get(url(mine)).content.decode()
    assert "public:" in html
    assert "topsecretns" not in html and "leafsecret" not in html
    # And the figures are the brand's own.
    assert 'aria-valuenow="1"' in html


# ---------------------------------------------------------------- live figures

@pytest.mark.parametrize(
    ("live", "level", "word"),
    [(0, "ok", ""), (79, "ok", ""), (80, "warning", "near limit"), (94, "warning", "near limit"),
     (95, "critical", "critical"), (100, "critical", "critical")],
)
def test_bar_level_at_80_and_95_percent(client, brand_factory, member_factory, live, level, word):
    brand = brand_factory(max_keys=100)
    cache = BrandCache.for_brand(brand)
    for i in range(live):
        cache.set(f"k{i}", 1)
    client.force_login(member_factory(brand))
    html = client.get(url(brand)).content.decode()
    assert usage_level(float(live)) == level
    main = html.split('aria-label="Live keys against the key limit"')[1].split("</section>")[0]
    assert f'<svg class="bar-svg {level}"' in main
    assert f'aria-valuenow="{live}"' in html and 'aria-valuemax="100"' in html
    assert f"{live:.1f} %" in html
    if word:
        assert f'<span class="badge badge-level-{level}">{word}</span>' in main
    else:
        assert "badge-level" not in main
    other = {"ok", "warning", "critical", "over"} - {level}
    for name in other:
        assert f'<svg class="bar-svg {name}"' not in main


def test_bar_never_overflows_when_the_limit_was_lowered(client, brand_factory, member_factory):
    brand = brand_factory(max_keys=10)
    cache = BrandCache.for_brand(brand)
    for i in range(10):
        cache.set(f"k{i}", 1)
    brand.quota.max_keys = 5
    brand.quota.save()
    client.force_login(member_factory(brand))
    html = client.get(url(brand)).content.decode()
    assert "200.0 %" in html
    assert '<rect class="bar-fill" width="100.00"' in html
    # Above 100 % the brand is "over limit", on this page and in the header alike.
    assert html.count(">over limit</span>") == 2 and "near limit" not in html
    assert "creating keys is refused until fewer than 5 remain" in html


def test_stored_bytes_and_refused_writes(client, brand_factory, member_factory):
    brand = brand_factory(max_keys=2, max_value_bytes=20)
    cache = BrandCache.for_brand(brand)
    cache.set("a", "x" * 8)  # 10 bytes of JSON text
    cache.set("b", "y" * 8)
    cache.set("c", 1)  # key limit
    cache.set("a", "z" * 30)  # value size
    cache.set("b", "z" * 30)  # value size
    client.force_login(member_factory(brand))
    html = client.get(url(brand)).content.decode()
    assert "20\xa0bytes" in html
    assert "1 by the key limit · 2 by the value size" in html


def test_top_namespaces_sorted_by_count_top_ten(client, brand_factory, member_factory):
    brand = brand_factory()
    cache = BrandCache.for_brand(brand)
    for n in range(12):  # namespace nsN holds N + 1 keys
        for i in range(n + 1):
            cache.set(f"ns{n:02d}:k{i}", 1)
    cache.set("plainkey", 1)  # a leaf, not a namespace
    client.force_login(member_factory(brand))
    html = client.get(url(brand)).content.decode()
    # The analysis section's "Namespaces by keys" table (issue 12: every namespace counts).
    by_keys = html[html.index("Namespaces by keys"):html.index("Namespaces by bytes")]
    shown = re.findall(
        r'<tr><td><a href="/b/[^"]+/keys/\?prefix=ns\d\d%3A"><code>(ns\d\d:)</code></a></td>'
        r'<td class="num">(\d+)</td>',
        by_keys,
    )
    assert shown == [(f"ns{n:02d}:", str(n + 1)) for n in range(11, 1, -1)]
    assert "plainkey" not in by_keys
    assert "1 key (1\xa0byte) has no <code>:</code>" in html


# ---------------------------------------------------------------- the chart

def test_empty_state_explains_record_usage(client, brand, member_factory):
    client.force_login(member_factory(brand))
    html = client.get(url(brand)).content.decode()
    assert "No usage snapshots yet" in html
    assert "manage.py record_usage" in html
    assert 'class="usage-chart"' not in html  # no chart (the usage bars are SVG too)


def test_chart_draws_one_point_per_snapshot_with_axes_and_limit(client, brand_factory, member_factory):
    brand = brand_factory(max_keys=1000)
    for hours_ago, live in [(100, 10), (50, 400), (1, 900)]:
        snapshot(brand, hours_ago, live)
    snapshot(brand, 24 * 8, 5)  # outside the default 7 days
    client.force_login(member_factory(brand))
    html = client.get(url(brand)).content.decode()
    points = polyline_points(html)
    assert len(points) == 3
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    assert xs == sorted(xs)  # oldest first, left to right
    assert ys[0] > ys[1] > ys[2]  # more keys, higher up (smaller y)
    assert html.count("<circle") == 3
    # UTC, labelled; the browser rewrites it in its own zone.
    marker = (r'<title data-local-time="[^"]+" data-local-suffix=": 900 keys">'
              r"[\d-]+ [\d:]+ UTC: 900 keys</title>")
    assert re.search(marker, html)
    # Accessible name and description, the limit line, gridlines and the table fallback.
    assert 'role="img"' in html and 'aria-labelledby="chart-title chart-desc"' in html
    assert "Live keys of" in html and "over the last 7 days</title>" in html
    assert "3 snapshots; latest 900 keys, peak 900 keys, limit 1,000 keys." in html
    assert '<g class="limit"' in html and "limit 1,000" in html
    assert html.count('class="y-label"') >= 3
    assert "Show the data as a table" in html
    limit_line = re.search(r'<g class="limit" aria-hidden="true">\s*<line [^>]*y1="([\d.]+)"', html)
    limit_y = float(limit_line.group(1))
    assert limit_y < ys[2]  # 900 keys sit below the 1,000-key line


def test_period_selects_the_window_and_htmx_gets_the_chart_only(client, brand, member_factory):
    for hours_ago in (2, 30, 24 * 20):
        snapshot(brand, hours_ago, 1)
    client.force_login(member_factory(brand))
    assert len(polyline_points(client.get(url(brand, period="24h")).content.decode())) == 1
    assert len(polyline_points(client.get(url(brand, period="7d")).content.decode())) == 2
    assert len(polyline_points(client.get(url(brand, period="30d")).content.decode())) == 3
    # An unknown period falls back to 7 days rather than failing.
    assert len(polyline_points(client.get(url(brand, period="bogus")).content.decode())) == 2

    partial = client.get(url(brand, period="30d"), HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<section id="usage-chart"')
    assert "<html" not in partial and "Top namespaces" not in partial
    assert len(polyline_points(partial)) == 3
    assert 'aria-current="true">30 days</a>' in partial


def test_no_snapshot_in_the_window_differs_from_none_at_all(client, brand, member_factory):
    snapshot(brand, 24 * 3, 1)
    client.force_login(member_factory(brand))
    html = client.get(url(brand, period="24h")).content.decode()
    assert "No snapshots in the last 24 hours" in html
    assert "No usage snapshots yet" not in html


def test_user_data_is_escaped(client, brand_factory, member_factory):
    brand = brand_factory("esc", name="<script>alert(1)</script>")
    snapshot(brand, 1, 1)
    client.force_login(member_factory(brand))
    html = client.get(url(brand)).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.usefixtures("dead_redis")
def test_redis_down_gives_the_503_page(client, brand, member_factory):
    client.force_login(member_factory(brand))
    response = client.get(url(brand))
    assert response.status_code == 503
    assert "Traceback" not in response.content.decode()


@pytest.mark.parametrize(("who", "shown"), [("viewer", False), ("admin", False), ("staff", True)])
def test_only_staff_get_the_edit_quota_link(client, brand, member_factory, user_factory, staff_user, who,
                                            shown):
    as_user(client, who, brand, member_factory, user_factory, staff_user)
    html = client.get(url(brand)).content.decode()
    assert (f'href="/staff/quotas/{brand.slug}/edit/"' in html) == shown
    # A read-only page: nothing in it posts anything (the log-out form sits in the header).
    assert 'method="post"' not in html.split("<main", 1)[1]
