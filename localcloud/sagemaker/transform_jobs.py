"""Transform jobs: the actions on them (create, stop, describe, list) over the resource store.

Each job runs on a thread of its own (`transform_runner`); its record is `transform_job`. Every
status change puts a "SageMaker Transform Job State Change" event on the bus, as SageMaker does.
"""

from __future__ import annotations

import threading
from typing import Any

from localcloud.sagemaker.containers import check_environment
from localcloud.sagemaker.data_processing import DataProcessing
from localcloud.sagemaker.exceptions import ValidationException
from localcloud.sagemaker.hosting import Hosting
from localcloud.sagemaker.layout import StateLayout
from localcloud.sagemaker.model_registry import EventSink
from localcloud.sagemaker.storage import StorageError, parse_s3_uri
from localcloud.sagemaker.store import ResourceStore
from localcloud.sagemaker.tags import TagStore
from localcloud.sagemaker.transform_job import ENDED, TRANSFORM_JOB, TransformJob
from localcloud.sagemaker.transform_runner import TransformRunner

EVENT_SOURCE = "aws.sagemaker"
STATE_CHANGE = "SageMaker Transform Job State Change"
MAX_PAYLOAD_MB = 100


def _check_payload(params: dict[str, Any]) -> None:
    """MaxPayloadInMB's rules: 1 to 100, and at most 100 MB in flight at once."""
    payload = params.get("MaxPayloadInMB")
    if payload == 0:
        raise ValidationException(
            "MaxPayloadInMB 0 asks for HTTP chunked streaming, which the local SageMaker does "
            "not offer: set 1 to 100, or leave it unset for the container's choice (6 by default)"
        )
    if payload is not None and payload > MAX_PAYLOAD_MB:
        raise ValidationException(
            f"Value '{payload}' at 'maxPayloadInMB' failed to satisfy constraint: Member must "
            f"have value less than or equal to {MAX_PAYLOAD_MB}"
        )
    concurrency = params.get("MaxConcurrentTransforms") or 0
    if payload and concurrency and payload * concurrency > MAX_PAYLOAD_MB:
        raise ValidationException(
            f"MaxConcurrentTransforms ({concurrency}) x MaxPayloadInMB ({payload}) is "
            f"{concurrency * payload} MB: it must not exceed {MAX_PAYLOAD_MB} MB"
        )


def _check_strategy(params: dict[str, Any]) -> None:
    """SingleRecord splits records apart, so it needs records: SplitType Line."""
    split = params["TransformInput"].get("SplitType", "None")
    if params.get("BatchStrategy") == "SingleRecord" and split == "None":
        raise ValidationException(
            "BatchStrategy SingleRecord needs TransformInput.SplitType Line: with SplitType None "
            "each object is sent whole, as one request"
        )


def _check_uris(params: dict[str, Any]) -> None:
    for member, uri in (
        (
            "transformInput.dataSource.s3DataSource.s3Uri",
            params["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"],
        ),
        ("transformOutput.s3OutputPath", params["TransformOutput"]["S3OutputPath"]),
    ):
        try:
            parse_s3_uri(uri)
        except StorageError as error:
            raise ValidationException(f"{member}: {error}") from None


class TransformJobs:
    """All transform jobs of this local SageMaker; each runs on a thread of its own."""

    def __init__(
        self,
        layout: StateLayout,
        lock: threading.RLock,
        tags: TagStore,
        hosting: Hosting,
        runner: TransformRunner,
    ) -> None:
        self._layout = layout
        self._lock = lock
        self._tags = tags
        self._hosting = hosting
        self._runner = runner
        self._sink: EventSink | None = None
        self.store: ResourceStore[TransformJob] = ResourceStore(TRANSFORM_JOB, lock, tags)
        self._threads: list[threading.Thread] = []

    def set_sink(self, sink: EventSink | None) -> None:
        """Where the state-change events go (None: dropped)."""
        with self._lock:
            self._sink = sink

    def create(self, params: dict[str, Any]) -> TransformJob:
        """CreateTransformJob: validate, register and run the job on a thread of its own."""
        name = params["TransformJobName"]
        model = self._hosting.models.get(params["ModelName"])
        check_environment(params.get("Environment", {}), "environment")
        _check_payload(params)
        _check_strategy(params)
        _check_uris(params)
        processing = DataProcessing.from_request(params)
        base_dir = self._layout.transform_job_dir(name)
        job = self.store.add(
            TransformJob(name, params, base_dir, processing), params.get("Tags", [])
        )
        self._announce(job)
        thread = threading.Thread(
            target=self._runner.run,
            args=(job, model, self._announce),
            name=f"transform-{name}",
            daemon=True,
        )
        self._threads.append(thread)
        thread.start()
        return job

    def stop(self, name: str) -> None:
        """StopTransformJob: status Stopping, the containers stopped; the runner ends Stopped."""
        with self._lock:
            job = self.store.get(name)
            if job.status != "InProgress":
                raise ValidationException(
                    f"The request was rejected because the transform job is in status {job.status}."
                )
            job.stop_requested = True
            job.status = "Stopping"
            programs = list(job.programs)
        self._announce(job)
        for program in programs:  # in-flight requests end; nothing more is uploaded
            program.send_stop()

    def _announce(self, job: TransformJob) -> None:
        with self._lock:
            sink = self._sink
            detail = job.event_detail(self._tags.mapping(job.arn))
        if sink is not None:
            sink(EVENT_SOURCE, STATE_CHANGE, detail, [job.arn])

    def shutdown(self) -> None:
        """Stop every running job's containers and wait for the runners to finish."""
        with self._lock:
            running = [job for job in self.store.all() if job.status not in ENDED]
            for job in running:
                job.stop_requested = True
            programs = [program for job in running for program in job.programs]
        for program in programs:
            program.send_stop()
        for thread in self._threads:
            thread.join()
