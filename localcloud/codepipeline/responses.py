"""One snake_case method per CodePipeline action: decoded request in, response dict out.

The job API (what the Lambda actions call) and the pipeline API (what the console, the CLI and
the notebook call) of one service. Requests arrive checked against botocore's model.
"""

from __future__ import annotations

from typing import Any

from localcloud.codepipeline import shapes
from localcloud.codepipeline.exceptions import (
    InvalidNextTokenException,
    PipelineVersionNotFoundException,
)
from localcloud.codepipeline.jobs import JobResult, JobStore
from localcloud.codepipeline.models import CodePipelineBackend
from localcloud.codepipeline.runner import SUCCEEDED
from localcloud.core.exceptions import ValidationException
from localcloud.sagemaker.common import page

DEFAULT_PAGE_SIZE = 100


def _page(items: list[Any], body: dict[str, Any]) -> tuple[list[Any], str | None]:
    """One page by maxResults and nextToken (an offset into the list)."""
    try:
        return page(
            items,
            {
                "NextToken": body.get("nextToken"),
                "MaxResults": body.get("maxResults", DEFAULT_PAGE_SIZE),
            },
            DEFAULT_PAGE_SIZE,
        )
    except ValidationException:
        raise InvalidNextTokenException from None


def _with_token(document: dict[str, Any], token: str | None) -> dict[str, Any]:
    return {**document, "nextToken": token} if token else document


class CodePipelineResponses:
    """CodePipeline's actions over a job store and the account's pipelines."""

    def __init__(self, jobs: JobStore, backend: CodePipelineBackend) -> None:
        self.jobs = jobs
        self.backend = backend

    # --- the job API -------------------------------------------------------------------------
    def put_job_success_result(self, body: dict[str, Any]) -> dict[str, Any]:
        """The action succeeded, or (with a continuation token) wants to be invoked again."""
        if body.get("continuationToken") and body.get("outputVariables"):
            raise ValidationException(
                "outputVariables can only be set when there is no continuationToken"
            )
        details = body.get("executionDetails") or {}
        self.jobs.report(
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
        self.jobs.report(
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
        return {"jobDetails": self.jobs.details(body["jobId"])}

    # --- pipelines ---------------------------------------------------------------------------
    def get_pipeline(self, body: dict[str, Any]) -> dict[str, Any]:
        """The pipeline's declaration and metadata."""
        pipeline = self.backend.pipeline(body["name"])
        version = body.get("version", shapes.PIPELINE_VERSION)
        if version != shapes.PIPELINE_VERSION:
            raise PipelineVersionNotFoundException(body["name"], version)
        return {
            "pipeline": shapes.declaration(pipeline.definition),
            "metadata": shapes.metadata(pipeline),
        }

    def list_pipelines(self, body: dict[str, Any]) -> dict[str, Any]:
        """Every pipeline of the account, by name."""
        summaries = [
            shapes.pipeline_summary(self.backend.pipelines[name])
            for name in sorted(self.backend.pipelines)
        ]
        items, token = _page(summaries, body)
        return _with_token({"pipelines": items}, token)

    def get_pipeline_state(self, body: dict[str, Any]) -> dict[str, Any]:
        """Each stage's transition, latest execution and action states (approval tokens too)."""
        pipeline = self.backend.pipeline(body["name"])
        return shapes.pipeline_state(pipeline, pipeline.view())

    # --- executions --------------------------------------------------------------------------
    def start_pipeline_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        """A new execution of the working copy's model code and the data bucket's manifest."""
        pipeline = self.backend.pipeline(body["name"])
        if body.get("variables"):
            names = ", ".join(v["name"] for v in body["variables"])
            raise ValidationException(
                f"Pipeline '{pipeline.definition.name}' declares no variables: {names}"
            )
        if body.get("sourceRevisions"):
            raise ValidationException(
                "sourceRevisions: the local cloud runs the working copy's model code and the "
                "data bucket's current manifest; it cannot run other source revisions"
            )
        execution = self.backend.start_execution(
            body["name"], client_request_token=body.get("clientRequestToken")
        )
        return {"pipelineExecutionId": execution.id}

    def get_pipeline_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        """One execution's status, revisions and trigger."""
        pipeline = self.backend.pipeline(body["pipelineName"])
        execution = pipeline.execution(body["pipelineExecutionId"])
        with pipeline.condition:
            status, snapshot = execution.status, execution.snapshot
        return {"pipelineExecution": shapes.execution(pipeline, status, snapshot)}

    def list_pipeline_executions(self, body: dict[str, Any]) -> dict[str, Any]:
        """The pipeline's executions, newest first."""
        pipeline = self.backend.pipeline(body["pipelineName"])
        executions = list(reversed(pipeline.view().executions))
        stage = (body.get("filter") or {}).get("succeededInStage", {}).get("stageName")
        if stage is not None:
            pipeline.stage_index(stage)
            executions = [
                e
                for e in executions
                if any(s["name"] == stage and s["status"] == SUCCEEDED for s in e[2]["stages"])
            ]
        items, token = _page(executions, body)
        summaries = [shapes.execution_summary(pipeline, status, snap) for _, status, snap in items]
        return _with_token({"pipelineExecutionSummaries": summaries}, token)

    def list_action_executions(self, body: dict[str, Any]) -> dict[str, Any]:
        """Action executions, newest first; by execution with `filter`."""
        pipeline = self.backend.pipeline(body["pipelineName"])
        executions = pipeline.view().executions
        wanted = body.get("filter") or {}
        latest_only = False
        execution_id = wanted.get("pipelineExecutionId")
        if "latestInPipelineExecution" in wanted:
            latest = wanted["latestInPipelineExecution"]
            execution_id, latest_only = (
                latest["pipelineExecutionId"],
                (latest["startTimeRange"] == "Latest"),
            )
        if execution_id is not None:
            pipeline.execution(execution_id)
            executions = [e for e in executions if e[0] == execution_id]
        details = [
            shapes.action_execution_detail(pipeline, snapshot, record)
            for _, _, snapshot in executions
            for record in (
                [a for s in snapshot["stages"] for a in s["actions"]]
                if latest_only
                else shapes.action_records(snapshot)
            )
        ]
        details.sort(key=lambda d: d["startTime"], reverse=True)
        items, token = _page(details, body)
        return _with_token({"actionExecutionDetails": items}, token)

    def stop_pipeline_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        """Stop an execution: abandon its actions in progress, or let them finish."""
        pipeline = self.backend.pipeline(body["pipelineName"])
        execution_id = body["pipelineExecutionId"]
        pipeline.stop_execution(execution_id, bool(body.get("abandon")), body.get("reason", ""))
        return {"pipelineExecutionId": execution_id}

    def retry_stage_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        """Run a failed or stopped stage again: its failed actions, or all of them."""
        pipeline = self.backend.pipeline(body["pipelineName"])
        pipeline.retry_stage(body["stageName"], body["pipelineExecutionId"], body["retryMode"])
        return {"pipelineExecutionId": body["pipelineExecutionId"]}

    def put_approval_result(self, body: dict[str, Any]) -> dict[str, Any]:
        """Approve or reject the manual approval the token names."""
        pipeline = self.backend.pipeline(body["pipelineName"])
        result = body["result"]
        approved_at = pipeline.answer_approval(
            body["stageName"],
            body["actionName"],
            body["token"],
            result["status"] == "Approved",
            result["summary"],
        )
        return {"approvedAt": approved_at}

    # --- transitions -------------------------------------------------------------------------
    def disable_stage_transition(self, body: dict[str, Any]) -> dict[str, Any]:
        """Hold executions before (Inbound) or after (Outbound) a stage."""
        pipeline = self.backend.pipeline(body["pipelineName"])
        pipeline.set_transition(body["stageName"], body["transitionType"], False, body["reason"])
        return {}

    def enable_stage_transition(self, body: dict[str, Any]) -> dict[str, Any]:
        """Let executions held at a transition go on."""
        pipeline = self.backend.pipeline(body["pipelineName"])
        pipeline.set_transition(body["stageName"], body["transitionType"], True)
        return {}
