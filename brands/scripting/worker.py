"""A long-lived script worker process: ``python -m brands.scripting.worker``.

Protocol (one JSON object per line): the parent writes a job to stdin; the worker answers on
stdout with streamed events ({"ev": "op" | "log" | "var" | ...}) and finally {"ev": "done",
"result": {...}}. The first line it ever writes is {"ev": "ready"}, after Django is set up.
The worker exits when stdin closes (the parent went away or shut the pool down).
"""

from __future__ import annotations

import json
import os
import signal
import sys


def _writer(fd: int):
    def write(message: dict) -> None:
        # ensure_ascii=False + "replace": a lone surrogate from a JavaScript string cannot break
        # the protocol or, later, a UTF-8 response.
        data = (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode(
            "utf-8", "replace"
        )
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    return write


def main() -> None:
    # The protocol gets its own copy of stdout; fd 1 then points at stderr, so anything a library
    # prints can never corrupt the protocol.
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    # Ctrl-C in a terminal reaches the whole process group; the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cacheadmin.settings")
    import django

    django.setup()

    from brands.scripting import sandbox

    sandbox.prelude_source()
    write = _writer(protocol_fd)
    write({"ev": "ready", "pid": os.getpid()})
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        job = json.loads(line)
        try:
            result = sandbox.execute(job, write)
        except Exception as exc:  # a bug here must not take the worker down with the job
            import logging

            logging.getLogger(__name__).exception("script execution failed")
            write({"ev": "failed", "message": f"{type(exc).__name__}: {exc}"[:500]})
            continue
        write({"ev": "done", "result": result})


if __name__ == "__main__":
    main()
