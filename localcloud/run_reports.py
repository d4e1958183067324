"""Pipeline run reports on disk: written as the run goes, so a crash leaves its stages behind.

`<state>/runs/<execution id>.json` and `runs/latest.json` hold the report of each run (the
runner's `RunReport` as JSON), written at every step of every execution. A run whose cloud died
while it was in progress is marked Interrupted, with its stages up to that point.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

from localcloud.client import process_alive

RUNS_DIR = "runs"
LATEST = "latest.json"
IN_PROGRESS, INTERRUPTED = "InProgress", "Interrupted"


def _write_atomically(path: Path, text: str) -> None:
    """Replace the file in one step, so a reader (or a crash) never meets half a report."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    Path(temporary).replace(path)


def save_report(state_dir: Path, report: dict[str, Any]) -> None:
    """Write a run's report under its id and as the latest one, naming the cloud running it."""
    runs = state_dir / RUNS_DIR
    runs.mkdir(parents=True, exist_ok=True)
    text = json.dumps({**report, "cloud_pid": os.getpid()}, indent=2)
    _write_atomically(runs / f"{report['execution_id']}.json", text)
    _write_atomically(runs / LATEST, text)


def latest_report(state_dir: Path) -> dict[str, Any] | None:
    """The latest run's report, or None before the first run."""
    return _read(state_dir / RUNS_DIR / LATEST)


def read_report(state_dir: Path, execution_id: str) -> dict[str, Any] | None:
    """The report of one execution (a pipeline execution id), or None if none was saved."""
    return _read(state_dir / RUNS_DIR / f"{uuid.UUID(execution_id)}.json")


def _read(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def interrupted(report: dict[str, Any], why: str) -> dict[str, Any]:
    """The report of a run that stopped with its cloud: what was in progress is Interrupted."""
    stages = []
    for stage in report.get("stages", []):
        actions = [
            {**action, "status": INTERRUPTED, "message": why}
            if action["status"] == IN_PROGRESS
            else action
            for action in stage.get("actions", [])
        ]
        status = INTERRUPTED if stage["status"] == IN_PROGRESS else stage["status"]
        stages.append({**stage, "status": status, "actions": actions})
    return {**report, "status": INTERRUPTED, "message": why, "stages": stages}


def in_progress_without_cloud(state_dir: Path) -> dict[str, Any] | None:
    """The latest run if it is in progress but the cloud that ran it is gone."""
    report = latest_report(state_dir)
    if report is None or report["status"] != IN_PROGRESS:
        return None
    return None if process_alive(int(report.get("cloud_pid", 0))) else report


def mark_interrupted(state_dir: Path, why: str) -> dict[str, Any] | None:
    """Record the latest run as interrupted if its cloud is gone; its new report, or None."""
    report = in_progress_without_cloud(state_dir)
    if report is None:
        return None
    updated = interrupted(report, why)
    save_report(state_dir, updated)
    return updated
