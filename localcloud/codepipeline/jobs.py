"""The job API's state: jobs the runner opens and the one result each accepts; no HTTP."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from localcloud.codepipeline.exceptions import (
    InvalidJobStateException,
    JobNotFoundException,
)
from localcloud.constants import ACCOUNT_ID

IN_PROGRESS, SUCCEEDED, FAILED = "InProgress", "Succeeded", "Failed"


@dataclass(frozen=True)
class JobResult:
    """The one result a job worker reported."""

    succeeded: bool
    message: str = ""  # executionDetails.summary, or failureDetails.message
    continuation_token: str | None = None
    output_variables: dict[str, str] = field(default_factory=dict)
    failure_type: str | None = None
    external_execution_id: str | None = None
    current_revision: dict[str, Any] | None = None


@dataclass
class _Job:
    id: str
    data: dict[str, Any]
    status: str = IN_PROGRESS
    result: JobResult | None = None


class JobStore:
    """Open jobs and the results reported for them; thread-safe."""

    def __init__(self, account_id: str = ACCOUNT_ID) -> None:
        self.account_id = account_id
        self._jobs: dict[str, _Job] = {}
        self._condition = threading.Condition()

    def open_job(self, data: dict[str, Any]) -> str:
        """Register a job with its `data` (what the Lambda event carries); its id."""
        job_id = str(uuid.uuid4())
        with self._condition:
            self._jobs[job_id] = _Job(job_id, data)
        return job_id

    def wait_result(self, job_id: str, timeout: float) -> JobResult | None:
        """The job's result, waiting up to `timeout` seconds for it; None if none came."""
        with self._condition:
            job = self._job(job_id)
            self._condition.wait_for(lambda: job.result is not None, timeout=timeout)
            return job.result

    def details(self, job_id: str) -> dict[str, Any]:
        """GetJobDetails' jobDetails."""
        with self._condition:
            job = self._job(job_id)
            return {"id": job.id, "data": job.data, "accountId": self.account_id}

    def report(self, job_id: str, result: JobResult) -> None:
        """Record the job's one result; a second one is an invalid job state."""
        with self._condition:
            job = self._job(job_id)
            if job.result is not None:
                raise InvalidJobStateException
            job.result = result
            job.status = SUCCEEDED if result.succeeded else FAILED
            self._condition.notify_all()

    def _job(self, job_id: str) -> _Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFoundException
        return job
