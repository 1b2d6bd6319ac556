from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from brands.cache import BrandCache, redis_client
from brands.models import AuditEntry, Brand, Membership, QuotaSettings, UsageSnapshot
from tests.support.redis_spy import count_redis_calls

MONITOR = "/staff/quotas/"


def edit_url(brand) -> str:
    return reverse("staff-quota-edit", args=[brand.slug])


def fill(brand, n: int) -> None:
    cache = BrandCache.for_brand(brand)
    for i in range(n):
        assert cache.set(f"k{i}", i)


def slugs_in_order(html: str) -> list[str]:
    return re.findall(r'<td data-label="Brand"><a href="/b/[^/]+/usage/"><code>([^<]+)</code></a>', html)


def quota_post(brand, **changes) -> dict:
    data = {name: getattr(brand.quota, name) for name in (
        "max_keys", "max_value_bytes", "default_ttl", "max_ttl", "max_ops_per_execution",
        "script_timeout_ms", "script_memory_mb", "max_concurrent_scripts")}
    data.update(changes)
    return data


def test_url_names():
    assert reverse("staff-quotas") == MONITOR
    assert reverse("staff-quota-edit", args=["x"]) == "/staff/quotas/x/edit/"


# ---------------------------------------------------------------- who may see it

ROLES = ["anonymous", "non-member", "viewer", "admin", "staff"]


def login_as(client, who, brand, member_factory, user_factory, staff_user):
    if who == "anonymous":
        return
    client.force_login({
        "non-member": user_factory,
        "viewer": lambda: member_factory(brand, role=Membership.Role.VIEWER),
        "admin": lambda: member_factory(brand, role=Membership.Role.ADMIN),
        "staff": lambda: staff_user,
    }[who]())


@pytest.mark.parametrize("who", ROLES)
def test_permission_matrix(client, brand, member_factory, user_factory, staff_user, who):
    """Staff only. Anonymous: log-in redirect; signed-in non-staff (even the brand's own admin):
    403 for every URL and method; staff: the pages, 405 for a POST to the monitor."""
    login_as(client, who, brand, member_factory, user_factory, staff_user)
    before = QuotaSettings.objects.get(brand=brand).max_keys
    responses = {
        "monitor GET": client.get(MONITOR),
        "monitor csv": client.get(MONITOR + "?format=csv"),
        "monitor POST": client.post(MONITOR),
        "edit GET": client.get(edit_url(brand)),
        "edit POST": client.post(edit_url(brand), quota_post(brand, max_keys=7)),
    }
    statuses = {name: r.status_code for name, r in responses.items()}
    if who == "anonymous":
        assert set(statuses.values()) == {302}
        assert all(r["Location"].startswith(reverse("login")) for r in responses.values())
    elif who == "staff":
        assert statuses == {"monitor GET": 200, "monitor csv": 200, "monitor POST": 405,
                            "edit GET": 200, "edit POST": 302}
    else:
        assert set(statuses.values()) == {403}
        assert all(brand.slug.encode() not in r.content for r in responses.values())
    changed = QuotaSettings.objects.get(brand=brand).max_keys != before
    assert changed == (who == "staff")


def test_edit_unknown_brand_404(client, staff_user):
    client.force_login(staff_user)
    assert client.get("/staff/quotas/nope/edit/").status_code == 404


# ---------------------------------------------------------------- the monitor

@pytest.fixture
def three(brand_factory):
    low = brand_factory("low", name="Low Co", max_keys=100)
    mid = brand_factory("mid", name="Middle", max_keys=10)
    high = brand_factory("high", name="Highway", max_keys=20)
    fill(low, 5)  # 5 %
    fill(mid, 8)  # 80 %
    fill(high, 19)  # 95 %
    BrandCache.for_brand(low).set("big", "x" * 600)  # one refused write
    # The monitor sorts and filters by each brand's last snapshot (live figures for the rows
    # shown): snapshots that agree with the live figures, taken at different times.
    UsageSnapshot.objects.create(brand=low, taken_at="2026-01-03T00:00:00Z", live_keys=5, max_keys=100,
                                 refused_writes=1)
    UsageSnapshot.objects.create(brand=mid, taken_at="2026-01-01T00:00:00Z", live_keys=8, max_keys=10)
    UsageSnapshot.objects.create(brand=high, taken_at="2026-01-02T00:00:00Z", live_keys=19, max_keys=20)
    return low, mid, high


def test_monitor_lists_every_brand_with_live_figures(client, staff_user, three):
    client.force_login(staff_user)
    response = client.get(MONITOR)
    html = response.content.decode()
    assert "<html" in html
    assert slugs_in_order(html) == ["high", "mid", "low"]  # default: percent, descending
    assert '<tr class="level-critical">' in html and '<tr class="level-warning">' in html
    assert "95.0 %" in html and "80.0 %" in html and "5.0 %" in html
    # Times in UTC, labelled; the browser shows them in its own zone.
    assert '<time datetime="2026-01-01T00:00:00+00:00" data-local>2026-01-01 00:00 UTC</time>' in html
    # The same words for the levels as every page: ok has none.
    assert ">critical</span>" in html and ">near limit</span>" in html
    # The Redis panel.
    assert "Version" in html and "Used memory" in html and "Connected clients" in html
    assert re.search(r"<dt>Mode</dt><dd>(standalone|sentinel|cluster)</dd>", html)


@pytest.mark.parametrize(
    ("sort", "direction", "expected"),
    [
        ("slug", "asc", ["high", "low", "mid"]),
        ("slug", "desc", ["mid", "low", "high"]),
        ("live_keys", "desc", ["high", "mid", "low"]),
        ("live_keys", "asc", ["low", "mid", "high"]),
        ("max_keys", "desc", ["low", "high", "mid"]),
        ("percent", "asc", ["low", "mid", "high"]),
        ("refused_writes", "desc", ["low", "high", "mid"]),
        ("last_snapshot", "desc", ["low", "high", "mid"]),
        ("last_snapshot", "asc", ["mid", "high", "low"]),
        ("name", "asc", ["high", "low", "mid"]),  # Highway, Low Co, Middle
        ("name", "desc", ["mid", "low", "high"]),
        ("bogus", "sideways", ["high", "mid", "low"]),  # unknown values: the default sort
    ],
)
def test_sorting_htmx_partial(client, staff_user, three, sort, direction, expected):
    client.force_login(staff_user)
    response = client.get(MONITOR, {"sort": sort, "dir": direction}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="quota-table"')
    assert "<html" not in html and "redis-heading" not in html  # no Redis panel
    assert slugs_in_order(html) == expected


def test_sort_headers_toggle_and_mark_aria_sort(client, staff_user, three):
    client.force_login(staff_user)
    html = client.get(MONITOR, {"sort": "live_keys", "dir": "desc", "q": "i"}).content.decode()
    assert 'aria-sort="descending"' in html
    assert 'href="/staff/quotas/?q=i&amp;sort=live_keys&amp;dir=asc"' in html
    assert 'href="/staff/quotas/?q=i&amp;sort=slug&amp;dir=asc"' in html


def test_filters(client, staff_user, three):
    client.force_login(staff_user)
    near = client.get(MONITOR, {"near": "1"}, HTTP_HX_REQUEST="true").content.decode()
    assert slugs_in_order(near) == ["high", "mid"]
    by_name = client.get(MONITOR, {"q": "WAY"}, HTTP_HX_REQUEST="true").content.decode()
    assert slugs_in_order(by_name) == ["high"]
    by_slug = client.get(MONITOR, {"q": "lo"}, HTTP_HX_REQUEST="true").content.decode()
    assert slugs_in_order(by_slug) == ["low"]
    both = client.get(MONITOR, {"q": "l", "near": "1"}, HTTP_HX_REQUEST="true").content.decode()
    assert slugs_in_order(both) == ["mid"]  # "Middle"
    none = client.get(MONITOR, {"q": "zzz"}, HTTP_HX_REQUEST="true").content.decode()
    assert "No brand matches." in none


def test_csv_export(client, staff_user, three, brand_factory):
    brand_factory("evil", name="=HYPERLINK(\"http://x\")")
    client.force_login(staff_user)
    response = client.get(MONITOR, {"format": "csv", "sort": "slug", "dir": "asc"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="quotas-')
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["slug", "name", "active", "live_keys", "max_keys", "percent", "level",
                       "refused_writes", "last_snapshot", "limit_forecast"]
    assert [row[0] for row in rows[1:]] == ["evil", "high", "low", "mid"]
    by_slug = {row[0]: row for row in rows[1:]}
    assert by_slug["high"] == ["high", "Highway", "yes", "19", "20", "95.0", "critical", "0",
                               "2026-01-02T00:00:00+00:00", ""]
    assert by_slug["evil"][8] == ""  # never snapshotted
    assert by_slug["low"][3:8] == ["5", "100", "5.0", "ok", "1"]
    assert by_slug["mid"][6] == "near limit" and by_slug["mid"][8] == "2026-01-01T00:00:00+00:00"
    assert by_slug["evil"][1].startswith("'=")  # no formula runs in a spreadsheet
    # The export honours the filters.
    near = client.get(MONITOR, {"format": "csv", "near": "1"}).content.decode()
    assert [row[0] for row in csv.reader(io.StringIO(near))][1:] == ["high", "mid"]


def test_escapes_brand_names(client, staff_user, brand_factory):
    brand_factory("xss", name="<img src=x onerror=alert(1)>")
    client.force_login(staff_user)
    html = client.get(MONITOR).content.decode()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


# ---------------------------------------------------------------- constant cost

def measure(client, monkeypatch):
    with CaptureQueriesContext(connection) as queries, count_redis_calls(monkeypatch) as redis_calls:
        for params in ({}, {"sort": "slug", "dir": "asc"}, {"near": "1"}, {"q": "b"}):
            assert client.get(MONITOR, params).status_code == 200
        assert client.get(MONITOR, {"sort": "refused_writes"}, HTTP_HX_REQUEST="true").status_code == 200
        assert client.get(MONITOR, {"format": "csv"}).status_code == 200
    return len(queries), redis_calls


def test_constant_queries_and_one_pipeline_per_request(client, staff_user, brand_factory, monkeypatch):
    client.force_login(staff_user)
    brands = [brand_factory() for _ in range(3)]
    fill(brands[0], 2)
    small_queries, small_redis = measure(client, monkeypatch)
    for _ in range(27):
        brand_factory()
    big_queries, big_redis = measure(client, monkeypatch)
    assert Brand.objects.count() == 30
    assert small_queries == big_queries
    # Six requests: one pipeline each (brands_usage for the rows shown), whatever the number of
    # brands; none for the near-limit view, empty here (no brand has a snapshot).
    assert small_redis.pipelines == big_redis.pipelines == 5
    # Besides that only the Redis panel's INFO (four full pages; on a cluster CLUSTER NODES and
    # an INFO per primary) and script loading, if any.
    assert small_redis.commands == big_redis.commands
    panel = 1 + len(redis_client().get_primaries()) if django_settings.REDIS_CLUSTER else 1
    assert big_redis.commands <= 2 + 4 * panel


def test_per_request_query_count(client, staff_user, brand_factory, django_assert_num_queries):
    client.force_login(staff_user)
    for _ in range(5):
        brand_factory()
    client.get(MONITOR)  # load scripts, warm caches
    # session, user, then the page: the count, the page's ids in order, its brands with their
    # quota and last-snapshot figures; the alerts section: thresholds in force, latest alerts,
    # failed deliveries (brands/alerts/selectors.py)
    with django_assert_num_queries(8):
        client.get(MONITOR)


# ---------------------------------------------------------------- editing a quota

def test_edit_page_has_labelled_fields(client, staff_user, brand):
    client.force_login(staff_user)
    html = client.get(edit_url(brand)).content.decode()
    for field in ("max_keys", "default_ttl", "max_ttl", "script_memory_mb", "max_concurrent_scripts"):
        assert f'<label for="id_{field}">' in html
        assert f'id="id_{field}"' in html
    assert "<html" in html
    partial = client.get(edit_url(brand), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and 'hx-post="/staff/quotas/' in partial


def test_htmx_save_updates_audits_and_toasts(client, staff_user, brand):
    client.force_login(staff_user)
    response = client.post(edit_url(brand), quota_post(brand, max_keys=1234, default_ttl=60),
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.content == b""  # the editor closes
    trigger = json.loads(response["HX-Trigger"])
    assert trigger["toast"]["level"] == "ok"
    assert brand.slug in trigger["toast"]["message"]
    assert trigger["quotas-changed"] == {"slug": brand.slug}
    quota = QuotaSettings.objects.get(brand=brand)
    assert (quota.max_keys, quota.default_ttl) == (1234, 60)
    entry = AuditEntry.objects.get(brand=brand)
    assert entry.action == "quota.update" and entry.user == staff_user and entry.outcome == "ok"
    assert "max_keys: 50000 -> 1234" in entry.detail and "default_ttl: 3600 -> 60" in entry.detail
    # The new limit takes effect for the cache service at once.
    assert BrandCache.for_brand(Brand.objects.get(pk=brand.pk)).limits.max_keys == 1234


def test_full_page_save_redirects_with_a_message(client, staff_user, brand):
    client.force_login(staff_user)
    response = client.post(edit_url(brand), quota_post(brand, max_keys=77), follow=True)
    assert response.redirect_chain == [(MONITOR, 302)]
    assert f"Quota of {brand.slug} saved (max_keys)." in response.content.decode()


def test_unchanged_save_writes_no_audit(client, staff_user, brand):
    client.force_login(staff_user)
    response = client.post(edit_url(brand), quota_post(brand), HTTP_HX_REQUEST="true")
    assert "unchanged" in json.loads(response["HX-Trigger"])["toast"]["message"]
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"default_ttl": 7200, "max_ttl": 3600}, "default_ttl", "cannot exceed the maximum TTL"),
        ({"max_keys": 0}, "max_keys", "greater than or equal to 1"),
        ({"max_ttl": 0}, "max_ttl", "greater than or equal to 1"),
        ({"max_value_bytes": -5}, "max_value_bytes", "greater than or equal to"),
        ({"script_timeout_ms": "soon"}, "script_timeout_ms", "Enter a whole number"),
    ],
)
@pytest.mark.parametrize("htmx", [True, False])
def test_validation_errors_shown_and_nothing_saved(client, staff_user, brand, changes, field, message, htmx):
    client.force_login(staff_user)
    before = QuotaSettings.objects.filter(brand=brand).values().get()
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.post(edit_url(brand), quota_post(brand, **{"max_keys": 999, **changes}), **extra)
    assert response.status_code == 200
    assert "HX-Trigger" not in response
    html = response.content.decode()
    assert message in html
    assert f'id="id_{field}-errors"' in html
    assert re.search(rf'<input[^>]*aria-invalid="true"[^>]*id="id_{field}"', html) or re.search(
        rf'<input[^>]*id="id_{field}"[^>]*aria-invalid="true"', html)
    assert ("<html" in html) != htmx
    assert QuotaSettings.objects.filter(brand=brand).values().get() == before
    assert not AuditEntry.objects.exists()


def test_csrf_enforced_on_quota_edit(staff_user, brand):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    refused = client.post(edit_url(brand), quota_post(brand, max_keys=42))
    assert refused.status_code == 403
    assert QuotaSettings.objects.get(brand=brand).max_keys == 50_000

    page = client.get(edit_url(brand))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    accepted = client.post(edit_url(brand), {**quota_post(brand, max_keys=42), "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302
    assert QuotaSettings.objects.get(brand=brand).max_keys == 42

    # htmx sends the token in the X-CSRFToken header (hx-headers on <body>).
    header = client.post(edit_url(brand), quota_post(brand, max_keys=43), HTTP_HX_REQUEST="true",
                         HTTP_X_CSRFTOKEN=token)
    assert header.status_code == 200
    assert QuotaSettings.objects.get(brand=brand).max_keys == 43


def test_errors_are_tied_to_their_fields_for_screen_readers(client, staff_user, brand):
    client.force_login(staff_user)
    html = client.post(edit_url(brand), quota_post(brand, default_ttl=9000), HTTP_HX_REQUEST="true"
                       ).content.decode()
    field = re.search(r'<input[^>]*id="id_default_ttl"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in field
    assert 'aria-describedby="id_default_ttl_helptext id_default_ttl-errors"' in field
    assert 'id="id_default_ttl_helptext"' in html and 'id="id_default_ttl-errors"' in html


def test_staff_nav_links_to_the_monitor_only_for_staff(client, staff_user, brand, member_factory):
    link = 'href="/staff/quotas/"'
    client.force_login(member_factory(brand))
    assert link not in client.get(reverse("usage", args=[brand.slug])).content.decode()
    client.force_login(staff_user)
    assert link in client.get(reverse("usage", args=[brand.slug])).content.decode()
    assert f'{link} aria-current="page">Quotas</a>' in client.get(MONITOR).content.decode()


@pytest.mark.usefixtures("dead_redis")
def test_redis_down_gives_the_503_page(client, staff_user, brand):
    client.force_login(staff_user)
    assert client.get(MONITOR).status_code == 503
    # The quota editor needs only the database.
    response = client.post(edit_url(brand), quota_post(brand, max_keys=5), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert QuotaSettings.objects.get(brand=brand).max_keys == 5


def test_staff_can_raise_a_brands_cap_of_script_runs(client, staff_user, brand):
    client.force_login(staff_user)
    response = client.post(edit_url(brand), quota_post(brand, max_concurrent_scripts=3))
    assert response.status_code == 302
    brand.quota.refresh_from_db()
    assert brand.quota.max_concurrent_scripts == 3
    entry = AuditEntry.objects.get(brand=brand, action="quota.update")
    assert entry.detail == "max_concurrent_scripts: 1 -> 3"
    refused = client.post(edit_url(brand), quota_post(brand, max_concurrent_scripts=0))
    assert refused.status_code == 200 and "greater than or equal to 1" in refused.content.decode()
    brand.quota.refresh_from_db()
    assert brand.quota.max_concurrent_scripts == 3
