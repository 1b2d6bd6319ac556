"""Operations counted from scripts (issue 12, item 2): exact for a known script, every refusal
reason included (the operation budget and invalid keys are refused before Redis), and one flush
round trip per execution however many calls the script makes."""

from __future__ import annotations

import pytest
from django.conf import settings

from brands.cache import BrandKeys, brands_ops_totals, ops_history, redis_client
from brands.scripting import run_script
from tests.support.redis_spy import count_redis_calls

SCRIPT = """
cache.set('a', 1); cache.get('a'); cache.get('b'); cache.has('a');
cache.setIfAbsent('a', 2); cache.increment('n'); cache.del('a');
try { cache.get('a b') } catch (e) {}
try { cache.get(5) } catch (e) {}
cache.set('big', 'x'.repeat(600));
cache.set('c', 1); cache.set('d', 1);
for (let i = 0; i < 3; i++) { try { cache.get('a') } catch (e) {} }
"""

EXPECTED = {
    "script:write": 2,
    "script:read_hit": 2,
    "script:read_miss": 1,
    "script:exists": 1,
    "script:increment": 1,
    "script:delete": 1,
    "script:refused_invalid_key": 2,
    "script:refused_value_size": 1,
    "script:refused_key_limit": 1,
    "script:refused_op_budget": 3,
}


def test_a_script_counts_exactly(brand_factory, script_pool):
    brand = brand_factory(max_keys=2, max_ops_per_execution=12)
    result = run_script(brand, SCRIPT, pool=script_pool)
    assert result["ok"], result
    assert result["ops"] == 12
    # Counted in the worker, flushed when the run ended: nothing left to flush here.
    assert brands_ops_totals([brand.pk])[brand.pk] == EXPECTED
    history = ops_history(brand.pk)
    assert [(hot.key, hot.count) for hot in history.hot_reads] == [("a", 2), ("b", 1)]
    assert [(hot.key, hot.count) for hot in history.hot_writes] == [("a", 2), ("c", 1), ("n", 1)]

    run_script(brand, "cache.get('a')", pool=script_pool)
    totals = brands_ops_totals([brand.pk])[brand.pk]
    assert totals["script:read_miss"] == 2  # a second execution adds to the same counters


def _calls(command: str) -> int:
    stats = redis_client().info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def test_the_counts_ride_in_the_slot_release_round_trip(brand, script_pool, monkeypatch):
    """The scheduler (this process) makes the same round trips for a run with cache calls as for
    one without: the worker hands its counts back with the result, and they go out in the
    pipeline that gives the slot back."""
    run_script(brand, "cache.get('warm')", pool=script_pool)

    def parent_sends(code: str) -> int:
        with count_redis_calls(monkeypatch) as calls:
            result = run_script(brand, code, pool=script_pool)
        assert result["ok"] and "_op_counts" not in result
        return calls.sends

    assert parent_sends("1") == parent_sends("for (let i = 0; i < 15; i++) cache.get('k' + i)") == 2
    assert brands_ops_totals([brand.pk])[brand.pk]["script:read_miss"] == 1 + 15


@pytest.mark.skipif(settings.REDIS_CLUSTER, reason="commandstats of one server")
def test_one_flush_per_execution(brand, script_pool):
    """INFO commandstats on the test's own Redis: a run with 15 GETs costs the same number of
    EVALSHAs (slot acquire, release, and one flush) as a run with one, plus its GETs."""
    run_script(brand, "cache.get('warm')", pool=script_pool)  # scripts loaded, workers warm

    def cost(code: str) -> tuple[int, int]:
        evalsha, gets = _calls("evalsha"), _calls("get")
        assert run_script(brand, code, pool=script_pool)["ok"]
        return _calls("evalsha") - evalsha, _calls("get") - gets

    none_evalsha, none_gets = cost("1")
    one_evalsha, one_gets = cost("cache.get('k')")
    many_evalsha, many_gets = cost("for (let i = 0; i < 15; i++) cache.get('k' + i)")
    # The scheduler's own reads are in all three; the runs differ by their cache calls alone.
    assert (one_gets - none_gets, many_gets - none_gets) == (1, 15)
    assert one_evalsha == none_evalsha + 1  # the flush; a run without cache calls sends none
    assert many_evalsha == one_evalsha
    assert brands_ops_totals([brand.pk])[brand.pk]["script:read_miss"] == 1 + 1 + 15


def test_counts_that_fail_to_record_never_fail_the_run(brand, script_pool, caplog):
    # A real Redis error in the counter script (the totals key holds a string: WRONGTYPE), sent
    # in the slot release's pipeline: the run still answers, its slot is still given back.
    keys = BrandKeys.for_brand(brand.pk)
    redis_client().set(keys.ops_totals, "not a hash")
    assert run_script(brand, "cache.get('k'); 7", pool=script_pool)["result"] == 7
    assert "script slot released with operation counts that failed" in caplog.text
    assert run_script(brand, "8", pool=script_pool)["result"] == 8  # not busy: the slot is free
    assert redis_client().zcard(keys.script_slots) == 0
