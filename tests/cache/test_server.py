from __future__ import annotations

from brands.cache import ServerInfo, server_info


def test_server_info_reports_the_live_server(db):
    info = server_info()
    assert isinstance(info, ServerInfo)
    major = int(info.version.split(".")[0])
    assert major >= 5
    assert info.mode in {"standalone", "sentinel", "cluster"}
    assert info.used_memory_human[-1] in "BKMG"
    # This test's own connection is one of them.
    assert info.connected_clients >= 1
    assert info.uptime_seconds >= 0
    assert info.ops_per_sec >= 0
