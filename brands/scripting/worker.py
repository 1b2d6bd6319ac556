"""A long-lived script worker process: forked by the pool's zygote (brands.scripting.zygote),
or stand-alone as ``python -m brands.scripting.worker`` on stdin / stdout.

Protocol (one JSON object per line): the parent writes a job; the worker answers with streamed
events ({"ev": "op" | "log" | "var" | ...}) and finally {"ev": "done",
"result": {...}}. The first line it ever writes is {"ev": "ready"}, after Django is set up.
The worker exits when stdin closes (the parent went away or shut the pool down).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import BinaryIO

# Seconds past a job's own time limit after which the worker ends itself (tests shorten it).
BACKSTOP_S = float(os.environ.get("CACHEADMIN_SCRIPT_BACKSTOP_S", "30"))


def _writer(fd: int):
    def write(message: dict) -> None:
        # ASCII JSON: a lone surrogate from a JavaScript string travels as its \udXXX escape and
        # reaches the parent as the same string (never "?": docs/contract.md#execution-result).
        data = (json.dumps(message, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    return write


def setup() -> None:
    """Everything a worker needs before its first job: Django (for the django-redis connection,
    opened lazily on the first cache call), the sandbox and its prelude. The zygote
    (brands.scripting.zygote) does this once and forks ready workers from it."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cacheadmin.settings")
    import django

    django.setup()

    from brands.scripting import sandbox

    sandbox.prelude_source()


def serve(jobs: BinaryIO, protocol_fd: int) -> None:
    """Answer jobs (JSON lines read from ``jobs``) on ``protocol_fd`` until ``jobs`` ends."""
    # Ctrl-C in a terminal reaches the whole process group; the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    from brands.scripting import sandbox

    write = _writer(protocol_fd)
    write({"ev": "ready", "pid": os.getpid()})
    for line in jobs:
        if not line.strip():
            continue
        job = json.loads(line)
        # A backstop for a parent that died mid-job: SIGALRM's default action ends this process,
        # and a script loop holds the interpreter, so no Python-level watchdog could run. The
        # parent's own limit (timeout_ms) always comes first.
        signal.setitimer(signal.ITIMER_REAL, int(job.get("timeout_ms", 1000)) / 1000 + BACKSTOP_S)
        try:
            result = sandbox.execute(job, write)
        except Exception as exc:  # a bug here must not take the worker down with the job
            import logging

            logging.getLogger(__name__).exception("script execution failed")
            write({"ev": "failed", "message": f"{type(exc).__name__}: {exc}"[:500]})
            continue
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        write({"ev": "done", "result": result})


def main() -> None:
    """A stand-alone worker on stdin / stdout (the pool forks its workers from a zygote)."""
    # The protocol gets its own copy of stdout; fd 1 then points at stderr, so anything a library
    # prints can never corrupt the protocol.
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    setup()
    serve(sys.stdin.buffer, protocol_fd)


if __name__ == "__main__":
    main()
