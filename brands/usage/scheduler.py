"""Usage snapshots without cron for ``make run``: a daemon thread in the development server that
records every active brand's usage every ``RECORD_USAGE_EVERY`` seconds, so a newcomer sees the
usage chart fill and the forecast appear.

Only the process that serves ``manage.py runserver`` starts it (the autoreloader's child, or the
server itself with ``--noreload``), and only when the setting is above 0: the Makefile's ``run``
target sets it (60 s by default), nothing else does. Tests, gunicorn (``make serve``) and every
other command never start it; production keeps the cron line (README).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence

from django.db import DatabaseError

from brands.cache import CacheUnavailable
from brands.usage.snapshots import usage_snapshots_prune, usage_snapshots_record

logger = logging.getLogger(__name__)

PRUNE_DAYS = 90  # as the cron line in the README


def should_start(every: int, argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """True in the process that serves ``runserver`` when recording is switched on. The
    autoreloader's parent process only watches files and restarts its child (``RUN_MAIN``)."""
    if every <= 0 or len(argv) < 2 or argv[1] != "runserver":
        return False
    return environ.get("RUN_MAIN") == "true" or "--noreload" in argv


def record_once(*, prune_days: int = PRUNE_DAYS) -> bool:
    """One recording (and pruning) run; a failure is logged, never raised: the loop goes on and
    tries again at the next interval. True when a snapshot was recorded."""
    try:
        totals = usage_snapshots_record()
        if prune_days:
            usage_snapshots_prune(older_than_days=prune_days, now=totals.taken_at)
    except CacheUnavailable:
        logger.warning("Usage not recorded: Redis is unavailable; trying again at the next interval.")
        return False
    except DatabaseError:
        logger.exception("Usage not recorded: database error; trying again at the next interval.")
        return False
    logger.info("Usage recorded for %d brand%s.", totals.brands, "" if totals.brands == 1 else "s")
    return True


def record_usage_loop(every: float, *, stop: threading.Event, runs: int | None = None,
                      after_each: Callable[[], None] = lambda: None) -> int:
    """Record now, then every ``every`` seconds, until ``stop`` is set or after ``runs`` runs;
    returns how many runs were made. ``after_each`` runs after every run (the thread closes its
    database connection there, so SQLite is not held between runs)."""
    done = 0
    while not stop.is_set():
        record_once()
        after_each()
        done += 1
        if runs is not None and done >= runs:
            break
        stop.wait(every)
    return done


def start_usage_scheduler(every: float, *, stop: threading.Event | None = None) -> threading.Thread:
    """The loop in a daemon thread (it ends with the server process)."""
    from django.db import connections

    thread = threading.Thread(
        target=record_usage_loop, args=(every,),
        kwargs={"stop": stop or threading.Event(), "after_each": connections.close_all},
        name="record-usage", daemon=True,
    )
    thread.start()
    return thread


def start_for_runserver(every: int, argv: Sequence[str],
                        environ: Mapping[str, str]) -> threading.Thread | None:
    """Called from the app's ready(): starts the scheduler when ``should_start`` says so."""
    if not should_start(every, argv, environ):
        return None
    logger.info("Recording usage every %d s in the development server (RECORD_USAGE_EVERY).", every)
    return start_usage_scheduler(every)
