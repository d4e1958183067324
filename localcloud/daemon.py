"""The background cloud of `up` and `start`: launch it detached, serve until SIGTERM, stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localcloud.client import (
    CONNECTION_FILE,
    REPO_ROOT,
    process_alive,
    read_connection,
    write_connection,
)
from localcloud.constants import LOCAL_SOURCE
from localcloud.processes import ProcessRecord, ProcessRegistry
from localcloud.recovery import Heartbeat
from localcloud.run_reports import mark_interrupted
from localcloud.stacks import StackError

START_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 30


def serve(state_dir: Path, dist: Path, port: int, source: str = LOCAL_SOURCE) -> int:
    """The background process itself: the cloud, until SIGTERM."""
    from localcloud.cloud import CloudSettings, LocalCloud
    from localcloud.connection import connection_document

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    cloud = LocalCloud(
        CloudSettings(state_dir=state_dir, gateway_port=port, dist=dist, source_provider=source)
    )
    heartbeat = Heartbeat(state_dir)
    try:
        cloud.start()
        heartbeat.start()
        write_connection(state_dir, connection_document(cloud))
        print("local cloud ready", flush=True)
        stop.wait()
        return 0
    finally:
        (state_dir / CONNECTION_FILE).unlink(missing_ok=True)
        cloud.stop()
        heartbeat.stop()


def start_background(
    state_dir: Path, dist: Path, port: int, source: str = LOCAL_SOURCE
) -> dict[str, Any]:
    """Start `serve` detached, wait for its connection file, and surface its log on failure."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    log_path = state_dir / "cloud.log"
    command = [sys.executable, "-m", "localcloud", "serve", "--state-dir", str(state_dir)]
    command += ["--dist", str(dist), "--port", str(port), "--source", source]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=REPO_ROOT,
        )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        connection = read_connection(state_dir)
        if connection is not None and connection["pid"] == process.pid:
            return connection
        if process.poll() is not None:
            tail = log_path.read_text().strip().splitlines()[-5:]
            raise StackError("the local cloud did not start:\n  " + "\n  ".join(tail))
        time.sleep(0.2)
    process.terminate()
    raise StackError(
        f"the local cloud did not start within {START_TIMEOUT_SECONDS}s; see {log_path}"
    )


@dataclass(frozen=True)
class Stopped:
    """What stopping the background cloud ended: its pid, leftovers, the run it interrupted."""

    pid: int
    orphans: list[ProcessRecord]
    interrupted_run: dict[str, Any] | None


def stop_background(state_dir: Path, connection: dict[str, Any]) -> Stopped:
    """SIGTERM the cloud's process group (SIGKILL after a grace period), then clean up after it."""
    pid = int(connection["pid"])
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if process_alive(pid):
        os.killpg(pid, signal.SIGKILL)
    (state_dir / CONNECTION_FILE).unlink(missing_ok=True)
    orphans = ProcessRegistry(state_dir).stop_orphans()
    run = mark_interrupted(state_dir, "Interrupted: the local cloud was stopped (`down`)")
    return Stopped(pid, orphans, run)
