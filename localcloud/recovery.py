"""After a local cloud dies: say when, stop what it left running, record its run as interrupted.

The background cloud touches `<state>/heartbeat` every second, so a cloud that was SIGKILLed
(or crashed) can be dated by the last touch. `down` and the next `up` clean up after it; `status`
only reports. Nothing of a dead cloud's AWS state survives: see `RESTART_NOTE`.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from localcloud.client import CONNECTION_FILE, process_alive
from localcloud.processes import ProcessRecord, ProcessRegistry
from localcloud.run_reports import in_progress_without_cloud, mark_interrupted

HEARTBEAT_FILE = "heartbeat"
CRASH_FILE = "last-crash.json"
HEARTBEAT_SECONDS = 1.0
RESTART_NOTE = (
    "A new local cloud starts from nothing: moto's buckets, stacks, images and roles and the "
    "local SageMaker's training jobs, models, endpoints and model registry (whose versions "
    "point at objects in the old buckets) lived in the old cloud and are gone; the stacks are "
    "created again and `up` runs the pipeline to train and deploy again. Run reports (runs/) "
    "and logs in the state folder are kept."
)


class Heartbeat:
    """Touch the heartbeat file every second until stopped."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / HEARTBEAT_FILE
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def _beat(self) -> None:
        while True:
            self.path.touch()
            if self._stop.wait(HEARTBEAT_SECONDS):
                return

    def start(self) -> None:
        """Begin beating."""
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and remove the file (a clean stop leaves no sign of a crash)."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join()
        self.path.unlink(missing_ok=True)


def _clock(stamp: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(stamp)) if stamp else "an unknown time"


@dataclass(frozen=True)
class Crash:
    """What a dead cloud left: who it was, when it was last alive, what was still running."""

    pid: int | None  # None when only orphaned processes or an unfinished run tell of it
    started: float | None
    last_seen: float | None
    left_running: list[str] = field(default_factory=list)
    interrupted_run: str | None = None

    def lines(self, *, cleaned: bool) -> list[str]:
        """What to tell the user, before (`cleaned=False`) or after cleaning up."""
        who = f"pid {self.pid}, up since {_clock(self.started)}" if self.pid else "an earlier one"
        lines = [
            f"The local cloud ({who}) died unexpectedly; it was last seen alive at "
            f"{_clock(self.last_seen)}."
        ]
        if self.left_running:
            verb = "Stopped what it left running" if cleaned else "It left running"
            lines.append(f"{verb}: " + "; ".join(self.left_running) + ".")
        if self.interrupted_run:
            verb = "Marked" if cleaned else "Its run"
            lines.append(f"{verb} pipeline run {self.interrupted_run} as interrupted.")
        if not cleaned and (self.left_running or self.interrupted_run or self.pid):
            lines.append("`python -m localcloud down` cleans up after it (`up` does too).")
        return lines


def _describe(record: ProcessRecord) -> str:
    return f"{record.what} (pid {record.pid})"


def _dead_connection(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / CONNECTION_FILE
    if not path.is_file():
        return None
    connection = json.loads(path.read_text())
    return None if process_alive(int(connection["pid"])) else connection


def _last_seen(state_dir: Path) -> float | None:
    path = state_dir / HEARTBEAT_FILE
    return path.stat().st_mtime if path.is_file() else None


def find_crash(state_dir: Path) -> Crash | None:
    """What a dead cloud left behind, without touching it (for `status`)."""
    connection = _dead_connection(state_dir)
    orphans = ProcessRegistry(state_dir).orphans()
    run = in_progress_without_cloud(state_dir)
    if connection is None and not orphans and run is None:
        return None
    return Crash(
        pid=int(connection["pid"]) if connection else None,
        started=connection.get("started") if connection else None,
        last_seen=_last_seen(state_dir),
        left_running=[_describe(record) for record in orphans],
        interrupted_run=run["execution_id"] if run else None,
    )


def recover(state_dir: Path) -> Crash | None:
    """Clean up after a dead cloud: stop its processes, mark its run, keep a note of the crash."""
    crash = find_crash(state_dir)
    if crash is None:
        return None
    stopped = ProcessRegistry(state_dir).stop_orphans()
    why = (
        f"Interrupted: the local cloud died during the run (last seen alive at "
        f"{_clock(crash.last_seen)})"
    )
    run = mark_interrupted(state_dir, why)
    crash = Crash(
        pid=crash.pid,
        started=crash.started,
        last_seen=crash.last_seen,
        left_running=[_describe(record) for record in stopped],
        interrupted_run=run["execution_id"] if run else None,
    )
    (state_dir / CRASH_FILE).write_text(json.dumps({**asdict(crash), "detected": time.time()}))
    (state_dir / CONNECTION_FILE).unlink(missing_ok=True)
    (state_dir / HEARTBEAT_FILE).unlink(missing_ok=True)
    return crash


def last_crash(state_dir: Path) -> Crash | None:
    """The crash `down` or `up` cleaned up after most recently, if any."""
    path = state_dir / CRASH_FILE
    if not path.is_file():
        return None
    document = json.loads(path.read_text())
    document.pop("detected", None)
    return Crash(**document)


def forget_crash(state_dir: Path) -> None:
    """A new cloud is up: the old crash is history."""
    (state_dir / CRASH_FILE).unlink(missing_ok=True)
