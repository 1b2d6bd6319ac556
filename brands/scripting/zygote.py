"""The zygote: one process per pool that sets Django and the sandbox up once, then forks ready
script workers on request: ``python -m brands.scripting.zygote <control fd>``.

A worker killed at the time limit is replaced by a fork (a few ms) instead of a new Python that
imports Django again (~0.4 s of CPU), so a brand whose scripts keep timing out no longer takes
CPU from everyone else's runs (docs/contract.md#fair-scheduling).

Control protocol on a Unix socket: the pool sends one byte with one file descriptor attached
(its end of a new socket pair, SCM_RIGHTS); the zygote forks, the child serves jobs on that
socket (brands.scripting.worker.serve), and the zygote answers the child's pid as a text line.
The zygote exits when the pool closes the control socket. Workers are reaped by the kernel
(SIGCHLD ignored), so the pool signals them through pidfds, never through a pid that could have
been reused.
"""

from __future__ import annotations

import os
import signal
import socket
import sys


def _child(fd: int) -> None:
    """In the forked worker: serve jobs on the socket ``fd``, then exit without running the
    zygote's own exit handlers."""
    status = 0
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        from brands.scripting import worker

        connection = socket.socket(fileno=fd)
        worker.serve(connection.makefile("rb"), fd)
    except BaseException:  # whatever happened, never return into the zygote's loop
        status = 1
    finally:
        os._exit(status)


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    # Anything a library prints must not end up where a protocol might be read.
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the workers

    from brands.scripting import worker

    worker.setup()
    control.sendall(b"ready\n")
    while True:
        try:
            message, fds, _flags, _address = socket.recv_fds(control, 16, 1)
        except OSError:
            return
        if not message:
            return  # the pool closed the control socket: its process is gone or shut down
        if not fds:
            continue
        pid = os.fork()
        if pid == 0:
            control.close()
            _child(fds[0])
        os.close(fds[0])
        control.sendall(f"{pid}\n".encode())


if __name__ == "__main__":
    main()
