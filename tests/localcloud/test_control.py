"""The control API's run state under concurrency: whole snapshots only, one run at a time."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from localcloud.codepipeline.runner import RunReport, StageRecord
from localcloud.control import ControlState

READ_SECONDS = 1.0
KEPT = 50  # stages (and artifacts) the busy report holds at a time


class BusyCloud:
    """Stands in for LocalCloud.run_pipeline: changes its report as fast as it can and tells the
    observer at each whole step, as the runner does."""

    def __init__(self) -> None:
        self.runs = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def run_pipeline(
        self, approve: Callable[..., Any], observe: Callable[[RunReport], None]
    ) -> RunReport:
        with self._lock:
            self.runs += 1
        report = RunReport(execution_id=str(uuid.uuid4()), pipeline="p")
        step = 0
        while not self.stop.is_set():
            # Between these lines the report is half-changed: nobody may see it so.
            report.stages.append(StageRecord(f"stage-{step}"))
            report.artifacts[f"artifact-{step}"] = {"step": step}
            if len(report.stages) > KEPT:
                report.stages.pop(0)
                del report.artifacts[f"artifact-{step - KEPT}"]
            observe(report)
            step += 1
        return report


def test_snapshots_are_whole_while_the_run_changes_its_report() -> None:
    cloud = BusyCloud()
    state = ControlState(cloud)  # type: ignore[arg-type]
    errors: list[BaseException] = []
    reads = [0]

    def read() -> None:
        deadline = time.monotonic() + READ_SECONDS
        try:
            while time.monotonic() < deadline:
                run = state.snapshot()["run"]
                assert run is not None
                assert len(run["stages"]) == len(run["artifacts"]), "a half-changed report"
                reads[0] += 1
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    assert state.start_run() is not None
    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    cloud.stop.set()
    assert errors == []
    assert reads[0] > 100


def test_only_one_of_many_simultaneous_starts_starts_a_run() -> None:
    cloud = BusyCloud()
    state = ControlState(cloud)  # type: ignore[arg-type]
    barrier = threading.Barrier(8)
    answers: list[str | None] = []

    def start() -> None:
        barrier.wait()
        answers.append(state.start_run())

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cloud.stop.set()
    assert cloud.runs == 1
    assert len([answer for answer in answers if answer is not None]) == 1
