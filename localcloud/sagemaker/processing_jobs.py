"""Processing jobs: the actions on them (create, stop, describe, list) over the resource store.

Each job runs on a thread of its own (`processing_runner`); its record is `processing_job`.
Model Monitor's executions are processing jobs too (`monitoring`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from localcloud.sagemaker.containers import check_environment, stop_running_programs
from localcloud.sagemaker.exceptions import ValidationException
from localcloud.sagemaker.layout import StateLayout
from localcloud.sagemaker.processing_job import PROCESSING_JOB, ProcessingJob, local_path
from localcloud.sagemaker.processing_runner import ProcessingRunner, command_of
from localcloud.sagemaker.store import ResourceStore
from localcloud.sagemaker.tags import TagStore


class ProcessingJobs:
    """All processing jobs of this local SageMaker; each runs on a thread of its own."""

    def __init__(
        self,
        layout: StateLayout,
        lock: threading.RLock,
        tags: TagStore,
        runner: ProcessingRunner,
    ) -> None:
        self._layout = layout
        self._lock = lock
        self._runner = runner
        self.store: ResourceStore[ProcessingJob] = ResourceStore(PROCESSING_JOB, lock, tags)
        self._threads: list[threading.Thread] = []

    def create(
        self,
        params: dict[str, Any],
        monitoring_schedule_arn: str | None = None,
        on_end: Callable[[ProcessingJob], None] | None = None,
    ) -> ProcessingJob:
        """CreateProcessingJob: validate, register and run the job on a thread of its own.

        A monitoring execution's job names its schedule, and `on_end` is called on the job's
        thread once it has ended.
        """
        name = params["ProcessingJobName"]
        command_of(params["AppSpecification"])
        check_environment(params.get("Environment", {}), "environment")
        base_dir = self._layout.processing_job_dir(name)
        paths: set[str] = set()
        outputs = params.get("ProcessingOutputConfig", {}).get("Outputs", [])
        for kind, items, key in (
            ("processingInputs", params.get("ProcessingInputs", []), "S3Input"),
            ("processingOutputConfig.outputs", outputs, "S3Output"),
        ):
            for index, item in enumerate(items, start=1):
                member = f"{kind}.{index}.member.{key[0].lower()}{key[1:]}.localPath"
                if key not in item:
                    raise ValidationException(
                        f"{kind}.{index}.member needs {key}: the local SageMaker moves data "
                        "through S3 only"
                    )
                path = item[key].get("LocalPath")
                if path is None:
                    raise ValidationException(f"{member} is required")
                local_path(base_dir, path, member)
                if path.rstrip("/") in paths:
                    raise ValidationException(f"{member} {path!r} is used twice")
                paths.add(path.rstrip("/"))
        job = self.store.add(
            ProcessingJob(name, params, base_dir, monitoring_schedule_arn), params.get("Tags", [])
        )
        thread = threading.Thread(
            target=self._run, args=(job, on_end), name=f"process-{name}", daemon=True
        )
        self._threads.append(thread)
        thread.start()
        return job

    def _run(self, job: ProcessingJob, on_end: Callable[[ProcessingJob], None] | None) -> None:
        self._runner.run(job)
        if on_end is not None:
            on_end(job)

    def stop(self, name: str) -> None:
        """StopProcessingJob: status Stopping, the program stopped; the runner then ends Stopped."""
        with self._lock:
            job = self.store.get(name)
            if job.status != "InProgress":
                raise ValidationException(
                    f"The request was rejected because the processing job is in status "
                    f"{job.status}."
                )
            job.stop_requested = True
            job.status = "Stopping"
            program = job.program
        if program is not None:  # SIGTERM, and SIGKILL if it is still running after the grace
            threading.Thread(target=program.stop, name=f"stop-{name}", daemon=True).start()

    def shutdown(self) -> None:
        """Stop every running program and wait for the runners to finish."""
        stop_running_programs(self.store.all(), self._lock, self._threads)
