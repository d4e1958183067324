"""Tie one program to the local cloud that started it, so that it cannot outlive the cloud.

Usage: `python -I guardian.py LIFELINE_FD [--keep-fd N]... -- PROGRAM [ARG...]`

The cloud starts this script as the leader of a new process group, handing it the read end of a
pipe whose write end only the cloud holds and never writes to. However the cloud ends, SIGKILL
included, the kernel closes that write end: the read here returns end-of-file and the guardian
kills its whole group, the program and everything it forked. Otherwise it waits for the program
and ends the way it did (same exit code, or the same signal), so the cloud sees the program's
own exit. Standard library only: it runs under `-I`, outside the program's PYTHONPATH.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading


def _watch(lifeline: int) -> None:
    try:
        while os.read(lifeline, 1):
            pass
    except OSError:
        pass
    os.killpg(0, signal.SIGKILL)


def main(argv: list[str]) -> None:
    """Start the program, watch the lifeline, and exit as the program did."""
    lifeline, rest = int(argv[0]), argv[1:]
    keep: list[int] = []
    while rest and rest[0] == "--keep-fd":
        keep.append(int(rest[1]))
        rest = rest[2:]
    program = rest[1:] if rest[:1] == ["--"] else rest
    # Stop signals go to the whole group: they are the program's to act on; the guardian waits.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: None)
    child = subprocess.Popen(program, pass_fds=keep)
    threading.Thread(target=_watch, args=(lifeline,), daemon=True).start()
    code = child.wait()
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
