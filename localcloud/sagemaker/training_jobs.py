"""Training jobs: the actions on them (create, stop, describe, list) over the resource store.

Each job runs on a thread of its own (`training_runner`); its record is `training_job`.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from localcloud.sagemaker.containers import check_environment, stop_running_programs
from localcloud.sagemaker.debugger import check_hook
from localcloud.sagemaker.exceptions import ValidationException
from localcloud.sagemaker.layout import StateLayout
from localcloud.sagemaker.profiler import check_profiler, profiling_enabled
from localcloud.sagemaker.store import ResourceStore
from localcloud.sagemaker.tags import TagStore
from localcloud.sagemaker.training_job import TRAINING_JOB, TrainingJob, channel_dir
from localcloud.sagemaker.training_runner import TrainingRunner


class TrainingJobs:
    """All training jobs of this local SageMaker; each runs on a thread of its own."""

    def __init__(
        self, layout: StateLayout, lock: threading.RLock, tags: TagStore, runner: TrainingRunner
    ) -> None:
        self._layout = layout
        self._lock = lock
        self._runner = runner
        self.store: ResourceStore[TrainingJob] = ResourceStore(TRAINING_JOB, lock, tags)
        self._threads: list[threading.Thread] = []

    def create(self, params: dict[str, Any]) -> TrainingJob:
        """Validate the request, register the job and start running it."""
        name = params["TrainingJobName"]
        algorithm = params["AlgorithmSpecification"]
        if not algorithm.get("TrainingImage"):
            raise ValidationException(
                "The local SageMaker runs bring-your-own-container jobs only: "
                "AlgorithmSpecification.TrainingImage is required"
            )
        for definition in algorithm.get("MetricDefinitions", []):
            try:
                re.compile(definition["Regex"])
            except re.error as error:
                raise ValidationException(
                    f"Invalid regex {definition['Regex']!r} for metric "
                    f"{definition.get('Name')!r}: {error}"
                ) from None
        check_environment(params.get("Environment", {}), "environment")
        base_dir = self._layout.training_job_dir(name)
        for index, channel in enumerate(params.get("InputDataConfig", []), start=1):
            channel_dir(base_dir, channel["ChannelName"], index)
            if "S3DataSource" not in channel["DataSource"]:  # the others are refused by name
                raise ValidationException(
                    f"Channel {channel['ChannelName']} has no DataSource.S3DataSource: the local "
                    "SageMaker reads every channel from an S3 prefix"
                )
        if "DebugHookConfig" in params:
            check_hook(params["DebugHookConfig"], base_dir)
        if profiling_enabled(params):
            check_profiler(params["ProfilerConfig"])
        job = self.store.add(TrainingJob(name, params, base_dir), params.get("Tags", []))
        thread = threading.Thread(
            target=self._runner.run, args=(job,), name=f"train-{name}", daemon=True
        )
        self._threads.append(thread)
        thread.start()
        return job

    def stop(self, name: str) -> None:
        """StopTrainingJob: status Stopping, the program stopped; the runner then ends Stopped."""
        with self._lock:
            job = self.store.get(name)
            if job.status != "InProgress":
                raise ValidationException(
                    f"The request was rejected because the training job is in status {job.status}."
                )
            job.stop_requested = True
            job.move_to("Stopping", "Stopping")
            program = job.program
        if program is not None:  # SIGTERM, and SIGKILL if it is still running after the grace
            threading.Thread(target=program.stop, name=f"stop-{name}", daemon=True).start()

    def shutdown(self) -> None:
        """Stop every running program and wait for the runners to finish."""
        stop_running_programs(self.store.all(), self._lock, self._threads)
