"""Usage snapshots without cron for `make run` (brands/usage/scheduler.py)."""

from __future__ import annotations

import threading
import time

import pytest
from django.conf import settings

from brands.models import UsageSnapshot
from brands.usage.scheduler import record_usage_loop, should_start, start_usage_scheduler


def test_the_loop_records_one_snapshot_per_interval_and_stops_by_itself(brand_factory):
    a, b = brand_factory(), brand_factory()
    b.is_active = False
    b.save()
    started = time.monotonic()
    runs = record_usage_loop(0.05, stop=threading.Event(), runs=3)
    elapsed = time.monotonic() - started
    assert runs == 3
    assert elapsed >= 0.1  # two waits between three runs
    times = list(UsageSnapshot.objects.filter(brand=a).values_list("taken_at", flat=True))
    assert len(times) == 3 and len(set(times)) == 3
    assert not UsageSnapshot.objects.filter(brand=b).exists()  # inactive brands are not recorded


def test_the_loop_stops_when_told(brand):
    stop = threading.Event()
    # A long interval: setting the event from another thread ends the wait at once.
    timer = threading.Timer(0.2, stop.set)
    started = time.monotonic()
    timer.start()
    assert record_usage_loop(30, stop=stop) == 1
    assert time.monotonic() - started < 5
    assert UsageSnapshot.objects.filter(brand=brand).count() == 1
    # Told before it starts: no run at all.
    assert record_usage_loop(30, stop=stop) == 0


def test_redis_down_does_not_end_the_loop(brand, dead_redis, caplog):
    assert record_usage_loop(0.01, stop=threading.Event(), runs=2) == 2
    assert not UsageSnapshot.objects.exists()
    assert caplog.text.count("Redis is unavailable") == 2


@pytest.mark.django_db(transaction=True)
def test_the_thread_records_in_the_background(transactional_db, brand_factory):
    # Committed rows: the thread has a database connection of its own, and inside the test's
    # open transaction SQLite's shared in-memory test database can keep it locked out (it failed
    # this way after tests/cache in one process).
    brand = brand_factory()
    stop = threading.Event()
    thread = start_usage_scheduler(0.05, stop=stop)
    assert thread.daemon and thread.name == "record-usage"
    deadline = time.monotonic() + 10
    while UsageSnapshot.objects.filter(brand=brand).count() < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert UsageSnapshot.objects.filter(brand=brand).count() >= 2


@pytest.mark.parametrize(
    ("every", "argv", "environ", "expected"),
    [
        # The autoreloader's child serves; its parent only restarts it.
        (60, ["manage.py", "runserver", "127.0.0.1:8000"], {"RUN_MAIN": "true"}, True),
        (60, ["manage.py", "runserver", "127.0.0.1:8000"], {}, False),
        (60, ["manage.py", "runserver", "--noreload"], {}, True),
        (0, ["manage.py", "runserver"], {"RUN_MAIN": "true"}, False),  # switched off
        # Never anything but runserver: tests, gunicorn, other commands.
        (60, ["pytest", "tests/usage"], {"RUN_MAIN": "true"}, False),
        (60, ["gunicorn", "cacheadmin.wsgi"], {"RUN_MAIN": "true"}, False),
        (60, ["manage.py", "migrate"], {"RUN_MAIN": "true"}, False),
        (60, ["manage.py"], {}, False),
    ],
)
def test_should_start(every, argv, environ, expected):
    assert should_start(every, argv, environ) is expected


def test_off_unless_the_makefile_turns_it_on():
    assert settings.RECORD_USAGE_EVERY == 0
    assert not any(thread.name == "record-usage" for thread in threading.enumerate())
