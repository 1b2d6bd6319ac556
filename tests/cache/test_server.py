"""What the staff panel shows about the Redis server (brands.cache.server_info): the figures
Redis itself reports, read in one INFO round trip."""

from __future__ import annotations

from brands.cache import ServerInfo, redis_client, server_info


def test_server_info_reports_the_live_server(db):
    before = redis_client().info()
    info = server_info()
    after = redis_client().info()

    assert isinstance(info, ServerInfo)
    assert info.version == before["redis_version"]
    assert info.mode == (before.get("redis_mode") or "standalone")
    # Figures that move while the test runs lie between two readings of INFO around the call.
    assert before["uptime_in_seconds"] <= info.uptime_seconds <= after["uptime_in_seconds"]
    assert info.used_memory_human.rstrip("BKMGT").replace(".", "").isdigit()
    assert info.used_memory_human[-1] in "BKMGT"
    assert info.ops_per_sec == int(info.ops_per_sec)
    # This test's own connection is one of the clients.
    assert info.connected_clients >= 1

