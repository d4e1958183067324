"""Child processes for `train` and `serve`: own process group, output to a log, clean stops.

Each program runs in a new session so that stopping it also stops whatever it forked (a serve
with several workers), the way stopping a container does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

STOP_GRACE_SECONDS = 5.0


class Program:
    """A running container program whose exit is observed by one watcher thread."""

    def __init__(
        self,
        argv: list[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
        on_exit: Callable[[int], None] | None = None,
    ) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                argv,
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self.popen.pid
        self.log_path = log_path
        self.exited = threading.Event()
        self.returncode: int | None = None
        self._on_exit = on_exit
        threading.Thread(target=self._watch, name=f"watch-{self.pid}", daemon=True).start()

    def _watch(self) -> None:
        self.returncode = self.popen.wait()
        # The leader is gone; anything it forked goes with it (orphaned workers would keep
        # answering on the port).
        self._signal_group(signal.SIGKILL)
        try:
            if self._on_exit is not None:
                self._on_exit(self.returncode)
        finally:
            # Set last, so a waiter that sees the exit also sees what on_exit recorded.
            self.exited.set()

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    def send_stop(self) -> None:
        """Ask the program to stop (SIGTERM to its group), without waiting."""
        if not self.exited.is_set():
            self._signal_group(signal.SIGTERM)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM, then SIGKILL after the grace period; returns once the program has exited."""
        self.send_stop()
        if not self.exited.wait(grace):
            self._signal_group(signal.SIGKILL)
            self.exited.wait()
