"""Calling Django's WSGI handler directly, as a real server would (the test client parses bodies
for us, which is exactly what the request-size tests must prove does not happen)."""

from __future__ import annotations

from contextlib import contextmanager

from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections


@contextmanager
def connections_kept_open():
    """As Django's test client does: a real WSGI request closes "old" database connections when it
    starts and ends, and inside a test's transaction that is the test's own connection (PostgreSQL
    then answers "the connection is closed"; SQLite's in-memory database is never closed)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def wsgi_call(environ: dict) -> tuple[str, dict[str, str], bytes]:
    """(status line, headers, body) of one request through the full middleware stack."""
    seen: list = []
    with connections_kept_open():
        response = WSGIHandler()(environ, _start_response(seen))
        content = b"".join(response)
        response.close()
    status, headers = seen[0]
    return status, dict(headers), content


def _start_response(seen: list):
    return lambda status, headers, exc_info=None: seen.append((status, headers))
