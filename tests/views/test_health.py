"""/healthz: both backing services, no details beyond ok / unavailable."""

from __future__ import annotations

from django.conf import settings


def test_healthz_ok(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    on_cluster = {"cluster_state": "ok"} if settings.REDIS_CLUSTER else {}
    assert response.json() == {"database": "ok", "redis": "ok", **on_cluster}


def test_healthz_names_redis_when_unreachable(client, db, dead_redis):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"database": "ok", "redis": "unavailable"}
    assert b"Traceback" not in response.content
