"""The CodePipeline job API the Lambda actions call: PutJobSuccessResult, PutJobFailureResult.

CodePipeline's JSON 1.1 protocol (`X-Amz-Target: CodePipeline_20150709.<Action>`) through the
shared front end (`localcloud.core.json_protocol`): signed with the cloud's credentials and
checked against botocore's own model of the service before any work. botocore reaches it
through `AWS_ENDPOINT_URL_CODEPIPELINE`. The runner opens a job per Lambda invocation and waits
for the one result the job accepts.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from localcloud.background import HttpServer
from localcloud.core.exceptions import AwsError, ValidationException
from localcloud.core.json_protocol import JsonProtocol, actions_of
from localcloud.core.signing import Credentials, SignatureVerifier

SERVICE = "codepipeline"
TARGET_PREFIX = "CodePipeline_20150709"
DEFAULT_ACCOUNT_ID = "123456789012"
IN_PROGRESS, SUCCEEDED, FAILED = "InProgress", "Succeeded", "Failed"


# --- errors (one class per CodePipeline error code, with the service's documented wording) ---
class JobNotFoundException(AwsError):
    """An unknown job id."""

    code = "JobNotFoundException"

    def __init__(self) -> None:
        super().__init__("The job was specified in an invalid format or cannot be found.")


class InvalidJobStateException(AwsError):
    """A result for a job that already has one."""

    code = "InvalidJobStateException"

    def __init__(self) -> None:
        super().__init__("The job state was specified in an invalid format.")


# --- models: jobs and their results ---------------------------------------------------------
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

    def __init__(self, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
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


# --- responses: one method per action -------------------------------------------------------
class JobApiResponses:
    """CodePipeline actions a job worker calls, on top of a JobStore."""

    def __init__(self, store: JobStore) -> None:
        self.store = store

    def put_job_success_result(self, body: dict[str, Any]) -> dict[str, Any]:
        """The action succeeded, or (with a continuation token) wants to be invoked again."""
        if body.get("continuationToken") and body.get("outputVariables"):
            raise ValidationException(
                "outputVariables can only be set when there is no continuationToken"
            )
        details = body.get("executionDetails") or {}
        self.store.report(
            body["jobId"],
            JobResult(
                succeeded=True,
                message=details.get("summary", ""),
                continuation_token=body.get("continuationToken"),
                output_variables=dict(body.get("outputVariables") or {}),
                external_execution_id=details.get("externalExecutionId"),
                current_revision=body.get("currentRevision"),
            ),
        )
        return {}

    def put_job_failure_result(self, body: dict[str, Any]) -> dict[str, Any]:
        """The action failed, with a type and a message for the pipeline's console."""
        failure = body["failureDetails"]
        self.store.report(
            body["jobId"],
            JobResult(
                succeeded=False,
                message=failure["message"],
                failure_type=failure["type"],
                external_execution_id=failure.get("externalExecutionId"),
            ),
        )
        return {}

    def get_job_details(self, body: dict[str, Any]) -> dict[str, Any]:
        """The job's data, as the Lambda event carried it."""
        return {"jobDetails": self.store.details(body["jobId"])}


class JobApi(JobStore):
    """The job store served over HTTP on loopback, for clients signed with `credentials`.

    Usage::

        jobs = JobApi(credentials, port=0)
        jobs.start()        # Lambdas get AWS_ENDPOINT_URL_CODEPIPELINE=jobs.url
        job_id = jobs.open_job(data)            # data: the event's CodePipeline.job.data
        ... invoke the Lambda with {"CodePipeline.job": {"id": job_id, "data": data, ...}} ...
        result = jobs.wait_result(job_id, timeout=30)   # JobResult, or None
        jobs.stop()
    """

    def __init__(
        self,
        credentials: Credentials,
        host: str = "127.0.0.1",
        port: int = 0,
        account_id: str = DEFAULT_ACCOUNT_ID,
    ) -> None:
        super().__init__(account_id)
        protocol = JsonProtocol(
            SERVICE,
            TARGET_PREFIX,
            actions_of(JobApiResponses(self)),
            SignatureVerifier(credentials, {SERVICE}),
        )
        self._server = HttpServer(
            protocol.handle, host=host, port=port, what="the CodePipeline job API"
        )

    @property
    def url(self) -> str:
        """The endpoint URL botocore is given."""
        return self._server.url

    @property
    def port(self) -> int:
        """The port bound (after `start`, the actual one when 0 was asked for)."""
        return self._server.port

    def start(self) -> None:
        """Bind and serve in a background thread; a taken port raises PortInUse naming it."""
        self._server.start()

    def stop(self) -> None:
        """Stop serving and free the port; safe to call twice."""
        self._server.stop()
