"""gunicorn configuration for `make serve` and deployments (`gunicorn -c cacheadmin/gunicorn.conf.py`).

Worker class: gthread. The script console holds its request while a script runs (up to the
brand's time limit) waiting on a pipe to a QuickJS worker; with sync workers one console user
would take a whole web worker, with threads the same process keeps serving other requests while
that thread waits. Threads share one script pool per web process, so processes (and memory) grow
with WEB_CONCURRENCY, not with concurrency: every web worker has SCRIPT_WORKERS script workers.

Everything can be overridden from the environment: WEB_CONCURRENCY, WEB_THREADS, BIND (or PORT),
GUNICORN_TIMEOUT, and any gunicorn flag through GUNICORN_CMD_ARGS.
"""

from __future__ import annotations

import os

from cacheadmin import paths

_var = paths.var_dir()

bind = os.environ.get("BIND") or f"127.0.0.1:{os.environ.get('PORT') or 8000}"
wsgi_app = "cacheadmin.wsgi:application"

# One process per core (the pages are CPU-bound Python; the GIL makes threads share one core),
# at least two so that a worker restart or a slow request never leaves nobody accepting.
workers = int(os.environ.get("WEB_CONCURRENCY") or max(2, os.cpu_count() or 1))
worker_class = "gthread"
# Threads cover the waits (Redis, the database, a script running in a QuickJS worker).
threads = int(os.environ.get("WEB_THREADS") or 4)

# gthread's main loop keeps heartbeating while a request runs, so this only catches a wedged
# worker; the script time limit is enforced by the script pool itself.
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 30)
# SIGTERM / SIGHUP: let requests in flight (a running script included) finish.
graceful_timeout = 30
keepalive = 5

# Access log to stdout with the duration in ms; errors to stderr.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s"'
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

# The default control socket is one per user ($HOME/.gunicorn/gunicorn.ctl), shared by every
# gunicorn on the machine; each instance gets its own under its var/ directory.
control_socket = str(_var / "gunicorn.ctl")

# No preload: SIGHUP (systemctl reload) starts new workers on the new code, then stops the old
# ones gracefully.
preload_app = False


def on_starting(server) -> None:
    """The master is a user of the embedded Redis for its whole life, so a graceful reload (old
    workers leaving before new ones have joined) never stops it; the last one out (the master,
    at exit) shuts it down, saving its data."""
    if not os.environ.get("REDIS_URL", "").strip():
        from cacheadmin import embedded_redis

        embedded_redis.ensure_started(_var)


def post_worker_init(worker) -> None:
    """Start this worker's script pool now, not on its first console request (~0.7 s of
    starting Python, Django and QuickJS per script worker)."""
    from brands.scripting import get_pool

    get_pool()
