"""A few seconds of the load test's whole pipeline (serve, fill, the Locust mix, the Redis probe,
memory, SIGTERM) on a small brand: the locustfile and the driver keep working. The real run is
`make loadtest` (minutes); its figures are in the README."""

from __future__ import annotations

import pytest

from loadtest import data, run

pytestmark = pytest.mark.slow


def test_locust_mix_smoke(tmp_path):
    # Equal weights, so that every page comes up in a few seconds on a busy machine.
    report = run.main(["--levels", "2", "--duration", "6", "--warmup", "0", "--keys", "500",
                       "--users", "2", "--probe-requests", "3", "--out", str(tmp_path),
                       "--weights", "key browser=20,key page=20,prefix search=20,console=20,usage=20"])
    level = report["levels"][0]
    assert level["requests"] > 0 and level["errors"] == 0 and level["login_errors"] == 0
    assert {page for page, figures in level["pages"].items() if figures["requests"]} == set(data.PAGES)
    # every page of the mix was exercised and measured alone against Redis
    for page in data.PAGES:
        assert report["redis"][page]["calls_per_request"] >= 1, page
        assert report["redis"][page]["redis_ms"] > 0, page
    assert report["memory"]["web"]["count"] >= 1 and report["memory"]["script"]["count"] >= 1
    assert report["exit_code"] == 0
    text = (tmp_path / "report.md").read_text()
    assert "| 2 |" in text and "Redis ms / request" in text
