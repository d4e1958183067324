"""One snake_case method per CodePipeline job action: decoded request in, response dict out."""

from __future__ import annotations

from typing import Any

from localcloud.codepipeline.job_api.models import JobResult, JobStore
from localcloud.core.exceptions import ValidationException


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
