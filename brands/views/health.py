from __future__ import annotations

from django.db import connection
from django.db.utils import Error as DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from brands.cache import CacheUnavailable, cluster_state, ping


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        return False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness of both backing services; no details beyond ok/unavailable (no secrets). On Redis
    Cluster also ``cluster_state`` ("ok" / "fail", from every primary); anything but ok is 503."""
    status = {
        "database": "ok" if _database_ok() else "unavailable",
        "redis": "ok" if ping() else "unavailable",
    }
    if status["redis"] == "ok":
        try:
            state = cluster_state()
        except CacheUnavailable:
            state, status["redis"] = "fail", "unavailable"
        if state is not None:
            status["cluster_state"] = state
    healthy = all(value == "ok" for value in status.values())
    return JsonResponse(status, status=200 if healthy else 503)
