"""Processes the local cloud starts: tied to the cloud, recorded in its state folder, stopped.

Container programs (`train`, `serve`) and build steps run under `guardian.py`, in a process group
of their own (stopping one stops whatever it forked, as stopping a container does), and die with
the cloud even when it is SIGKILLed. Every process is also recorded in `<state>/processes/` while
it runs, so that `down` or the next `up` can find and stop anything a dead cloud left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

GUARDIAN = Path(__file__).with_name("guardian.py")
PROCESSES_DIR = "processes"
STOP_GRACE_SECONDS = 5.0


def base_path() -> str:
    """PATH for a program we start: this interpreter's bin directory and the system's only."""
    return os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])


def _create_time(pid: int) -> float | None:
    """When a process started (None if it is gone), which tells a process from a reused pid."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None


class _Lifeline:
    """A pipe whose write end only this process holds: its end-of-file tells children we died."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._read_end: int | None = None
        self._write_end: int | None = None  # held open, never written to, until we exit
        self._owner = 0

    def read_end(self) -> int:
        """The end to hand to a child (created on first use, and anew after a fork)."""
        with self._lock:
            if self._read_end is None or self._owner != os.getpid():
                self._read_end, self._write_end = os.pipe()  # close-on-exec: no child keeps one
                self._owner = os.getpid()
            return self._read_end


_LIFELINE = _Lifeline()


@dataclass(frozen=True)
class ProcessRecord:
    """A process the cloud started, as `<state>/processes/<pid>.json` records it."""

    pid: int
    create_time: float
    what: str
    argv: list[str]
    group: bool  # leads a process group of its own (stop the group, not only the pid)
    cloud_pid: int
    cloud_create_time: float
    started: float

    def alive(self) -> bool:
        """The same process (not a reused pid) still runs."""
        created = _create_time(self.pid)
        return created is not None and abs(created - self.create_time) < 0.01

    def cloud_alive(self) -> bool:
        """The cloud that started it still runs."""
        created = _create_time(self.cloud_pid)
        return created is not None and abs(created - self.cloud_create_time) < 0.01

    def kill(self) -> None:
        """SIGKILL it (and its group, if it leads one)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if self.group:
                os.killpg(self.pid, signal.SIGKILL)
            else:
                os.kill(self.pid, signal.SIGKILL)


class ProcessRegistry:
    """The records of one state folder."""

    def __init__(self, state_dir: Path) -> None:
        self.folder = Path(state_dir) / PROCESSES_DIR

    def add(self, pid: int, what: str, argv: Sequence[str], *, group: bool) -> None:
        """Record a process this cloud just started."""
        me = os.getpid()
        record = ProcessRecord(
            pid=pid,
            create_time=_create_time(pid) or time.time(),
            what=what,
            argv=list(argv),
            group=group,
            cloud_pid=me,
            cloud_create_time=_create_time(me) or 0.0,
            started=time.time(),
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{pid}.json").write_text(json.dumps(asdict(record)))

    def remove(self, pid: int) -> None:
        """Forget a process that has ended."""
        (self.folder / f"{pid}.json").unlink(missing_ok=True)

    def records(self) -> list[ProcessRecord]:
        """Every record, oldest first (unreadable ones are dropped)."""
        records = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                records.append(ProcessRecord(**json.loads(path.read_text())))
            except (OSError, ValueError, TypeError):
                path.unlink(missing_ok=True)
        return sorted(records, key=lambda record: record.started)

    def orphans(self) -> list[ProcessRecord]:
        """Processes still running whose cloud has died; records of ended ones are dropped."""
        found = []
        for record in self.records():
            if not record.alive():
                self.remove(record.pid)
            elif not record.cloud_alive():
                found.append(record)
        return found

    def stop_orphans(self) -> list[ProcessRecord]:
        """SIGKILL what a dead cloud left running; the records of what was stopped."""
        orphans = self.orphans()
        for record in orphans:
            record.kill()
            self.remove(record.pid)
        return orphans


class Program:
    """A guarded program (own process group, output to a log) whose exit one thread observes."""

    def __init__(
        self,
        argv: list[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
        what: str,
        registry: ProcessRegistry,
        on_exit: Callable[[int], None] | None = None,
    ) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        lifeline = _LIFELINE.read_end()
        command = [sys.executable, "-I", str(GUARDIAN), str(lifeline), "--", *argv]
        with log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                command,
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(lifeline,),
            )
        self.pid = self.popen.pid
        self.log_path = log_path
        self.exited = threading.Event()
        self.returncode: int | None = None
        self._registry = registry
        self._on_exit = on_exit
        registry.add(self.pid, what, argv, group=True)
        threading.Thread(target=self._watch, name=f"watch-{self.pid}", daemon=True).start()

    def _watch(self) -> None:
        self.returncode = self.popen.wait()
        # The leader is gone; anything it forked goes with it (orphaned workers would keep
        # answering on the port).
        self._signal_group(signal.SIGKILL)
        self._registry.remove(self.pid)
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

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code once the program has ended (None if still running after `timeout`)."""
        self.exited.wait(timeout)
        return self.returncode
