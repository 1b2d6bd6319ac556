from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from brands.cache import BrandCache, script_slot_release
from brands.models import Membership
from tests.support.redis_spy import RedisCalls, count_redis_calls

URL = "/metrics"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
def two_brands(brand_factory):
    alpha = brand_factory("alpha", max_keys=5)
    beta = brand_factory("beta")
    cache = BrandCache.for_brand(alpha)
    for i in range(5):
        cache.set(f"k{i}", i)
    cache.set("over", 1)  # refused by the key limit
    cache.set("big", "x" * 600)  # refused by the value size
    BrandCache.for_brand(beta).set("only", 1)
    # As the scheduler records executions (brands.scripting.scheduling).
    for outcome, duration_ms in (("ok", 2.0), ("ok", 2.0), ("error", 4.0), ("busy", None)):
        script_slot_release(alpha.pk, None, outcome=outcome, duration_ms=duration_ms)
    return alpha, beta


def test_url_name():
    assert reverse("metrics") == URL


def test_staff_session_gets_prometheus_text_with_the_right_values(client, staff_user, two_brands):
    client.force_login(staff_user)
    response = client.get(URL)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    found = samples(response.content.decode())
    assert found[("cacheadmin_brand_live_keys", (("brand", "alpha"),))] == 5
    assert found[("cacheadmin_brand_live_keys", (("brand", "beta"),))] == 1
    assert found[("cacheadmin_brand_max_keys", (("brand", "alpha"),))] == 5
    assert found[("cacheadmin_brand_max_keys", (("brand", "beta"),))] == 50_000
    assert found[("cacheadmin_brand_refused_writes_total", (("brand", "alpha"),))] == 2
    assert found[("cacheadmin_brand_refused_writes_total", (("brand", "beta"),))] == 0
    assert found[("cacheadmin_script_executions_total", (("brand", "alpha"), ("outcome", "ok")))] == 2
    assert found[("cacheadmin_script_executions_total", (("brand", "alpha"), ("outcome", "error")))] == 1
    assert found[("cacheadmin_script_executions_total", (("brand", "alpha"), ("outcome", "busy")))] == 1
    assert found[("cacheadmin_script_executions_total", (("brand", "alpha"), ("outcome", "timeout")))] == 0
    assert found[("cacheadmin_script_executions_total", (("brand", "beta"), ("outcome", "ok")))] == 0
    assert found[("cacheadmin_script_errors_total", (("brand", "alpha"),))] == 2
    # Nearest-rank quantiles of the recorded durations (2, 2, 4 ms); a refusal has none.
    assert found[("cacheadmin_script_duration_seconds", (("brand", "alpha"), ("quantile", "0.5")))] == 0.002
    assert found[("cacheadmin_script_duration_seconds", (("brand", "alpha"), ("quantile", "0.95")))] == 0.004
    assert ("cacheadmin_script_duration_seconds", (("brand", "beta"), ("quantile", "0.5"))) not in found
    assert found[("cacheadmin_redis_up", ())] == 1


def test_metric_types(client, staff_user, two_brands):
    client.force_login(staff_user)
    families = {f.name: f.type for f in text_string_to_metric_families(client.get(URL).content.decode())}
    assert families["cacheadmin_brand_live_keys"] == "gauge"
    assert families["cacheadmin_brand_max_keys"] == "gauge"
    assert families["cacheadmin_brand_refused_writes"] == "counter"
    assert families["cacheadmin_script_executions"] == "counter"
    assert families["cacheadmin_script_duration_seconds"] == "gauge"


def _scrape_cost(client, monkeypatch) -> tuple[int, RedisCalls]:
    with CaptureQueriesContext(connection) as queries, count_redis_calls(monkeypatch) as redis_calls:
        assert client.get(URL).status_code == 200
    return len(queries), redis_calls


def test_queries_and_pipelines_do_not_grow_with_brands(client, staff_user, brand_factory, monkeypatch):
    client.force_login(staff_user)
    brand_factory()
    client.get(URL)  # scripts loaded, connections open
    few_queries, few_redis = _scrape_cost(client, monkeypatch)
    for _ in range(20):
        brand_factory()
    client.get(URL)  # on Redis Cluster: the scripts loaded on the new brands' nodes too
    many_queries, many_redis = _scrape_cost(client, monkeypatch)
    # session, user, brands; one Redis pipeline for every brand's usage, one for every
    # brand's script statistics and one for every brand's operation counters.
    assert few_queries == many_queries <= 3
    assert few_redis.pipelines == many_redis.pipelines == 3
    assert few_redis.commands == many_redis.commands == 0


@pytest.mark.parametrize("who", ["anonymous", "viewer", "admin", "non-member"])
def test_non_staff_without_token_refused(client, brand, member_factory, user_factory, who, settings):
    settings.METRICS_TOKEN = ""
    if who in {"viewer", "admin"}:
        client.force_login(member_factory(brand, role=who))
    elif who == "non-member":
        client.force_login(user_factory())
    response = client.get(URL)
    assert response.status_code == 403
    assert b"cacheadmin_" not in response.content


def test_post_not_allowed(client, staff_user):
    client.force_login(staff_user)
    assert client.post(URL).status_code == 405


def test_bearer_token(settings, two_brands):
    settings.METRICS_TOKEN = "s3cret-token"
    client = Client()
    ok = client.get(URL, HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert ok.status_code == 200
    assert samples(ok.content.decode())[("cacheadmin_brand_live_keys", (("brand", "alpha"),))] == 5

    for header in ["Bearer wrong", "Bearer s3cret-toke", "Basic s3cret-token", "s3cret-token", ""]:
        response = client.get(URL, HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, header
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert b"cacheadmin_" not in response.content
    assert client.get(URL).status_code == 401


def test_empty_token_setting_accepts_no_bearer(settings, db):
    settings.METRICS_TOKEN = ""
    assert Client().get(URL, HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_token_does_not_need_a_session_and_member_with_token_works(settings, client, brand, member_factory):
    settings.METRICS_TOKEN = "tok"
    client.force_login(member_factory(brand, role=Membership.Role.VIEWER))
    assert client.get(URL).status_code == 401
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer tok").status_code == 200


@pytest.mark.usefixtures("dead_redis")
def test_redis_down_still_answers_with_redis_up_zero(client, staff_user, brand):
    client.force_login(staff_user)
    response = client.get(URL)
    assert response.status_code == 200
    found = samples(response.content.decode())
    assert found[("cacheadmin_redis_up", ())] == 0
    assert not any(name in ("cacheadmin_brand_live_keys", "cacheadmin_script_executions_total")
                   for name, _ in found)
