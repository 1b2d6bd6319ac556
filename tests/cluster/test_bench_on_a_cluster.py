"""``cache_bench`` on Redis Cluster (issue 14, item 8), on this module's own cluster: every
figure is produced, each contract call is one round trip as the brand's node counts it, the raw
side runs on the bench brand's node, and every key written is gone afterwards, on every node."""

from __future__ import annotations

import json
from io import StringIO

from django.core.management import call_command

from brands.cache import redis_client

TINY = ["--foreign-keys", "1000", "--brand-keys", "400", "--rounds", "2", "--calls", "30",
        "--skip-other-benchmarks"]


def test_cache_bench_runs_on_a_cluster(on_local_cluster):
    out = StringIO()
    call_command("cache_bench", "--json", *TINY, verbosity=0, stdout=out)
    report = json.loads(out.getvalue())

    assert report["environment"]["redis_connection"] == "REDIS_URL, Redis Cluster"
    for op in ["get", "set", "has", "delete", "set_if_absent", "increment", "live_count", "list_keys",
               "raw GET (calibration)"]:
        assert report["round_trips"][op]["round_trips"] == 1, (op, report["round_trips"][op])
    assert report["round_trips"]["set"]["method"] == "MONITOR"  # on the brand's node
    assert report["round_trips"]["set"]["commands_per_call"] == {"evalsha": 1}
    for op in ("get", "set"):
        assert report["per_call"][op]["ratio"] > 0
    assert all(report["browse"][name]["agrees"] for name in ("live_count", "first_page"))
    assert report["memory"]["keys"] == 400 and report["memory"]["name_index_keys"] >= 5
    assert report["server_keys"] >= 1000 + 400  # every primary's keys, not one node's
    assert report["cleanup"]["remaining"] == 0
    prefix = report["bench_prefix"]
    assert not list(redis_client().scan_iter(match=f"{prefix}:*", count=1000))  # every primary
