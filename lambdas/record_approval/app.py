"""RecordApproval: the pipeline's human gate, written into the model registry.

Approving ApproveProd runs this as the next action: the version becomes Approved with the
approver's comment as its ApprovalDescription. Rejecting it (or letting it expire) fails the
action, and the EventBridge rule on that failure hands the event here: the version becomes
Rejected with the reason. Either change is a registry event DeployModel follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from codepipeline_job import (
    CodePipelineJob,
    Done,
    JobFailed,
    pipeline_execution_id,
    run_job,
    settings_from_env,
)
from json_logging import get_logger
from model_registry import APPROVED, PENDING, REJECTED, version_of

INPUT_FILE = "registration.json"
FAILED_ACTION_EVENT = "CodePipeline Action Execution State Change"
DESCRIPTION_MAX = 1024  # UpdateModelPackage's ApprovalDescription

SAGEMAKER = boto3.client("sagemaker")
CODEPIPELINE = boto3.client("codepipeline")
logger = get_logger("record_approval")


@dataclass(frozen=True)
class Settings:
    """The function's environment, set by templates/02-pipeline.yml."""

    pipeline_name: str
    approval_action: str  # the manual approval (ApproveProd)
    register_action: str  # the action whose output variable names the version (RegisterModel)


@dataclass(frozen=True)
class Decision:
    """What the person at the approval said, as CodePipeline recorded it."""

    approved: bool
    comment: str
    by: str

    def description(self, pipeline: str) -> str:
        verb = "Approved" if self.approved else "Rejected"
        text = f"{verb} in {pipeline} by {self.by or 'an unnamed principal'}: {self.comment}"
        return text[:DESCRIPTION_MAX]


def handler(event: dict[str, Any], context: Any) -> None:
    """Lambda entry point: a CodePipeline job (approved), or the rule's event (rejected)."""
    if "CodePipeline.job" in event:
        run_job(event, context, record_approval)
    else:
        record_rejection(event)


def record_approval(job: CodePipelineJob) -> Done:
    """Mark the version this execution registered Approved, with the approver's comment."""
    settings = settings_from_env(Settings)
    execution_id = pipeline_execution_id(job.user_parameters)
    arn = job.read_json(job.input_artifact, INPUT_FILE, "ModelPackageArn")["ModelPackageArn"]
    actions = action_executions(settings.pipeline_name, execution_id)
    decision = decision_of(actions, settings.approval_action)
    if decision is None or not decision.approved:
        raise JobFailed(
            f"{settings.approval_action} of execution {execution_id} has no approval on record"
        )
    status = approval_status(arn)
    if status == REJECTED:
        raise JobFailed(
            f"version {version_of(arn)} ({arn}) was Rejected in the model registry while it "
            "waited for approval; the pipeline's approval does not override that. Approve it "
            f"in the registry to deploy it: python -m scripts.registry approve {version_of(arn)}"
        )
    set_status(arn, APPROVED, decision.description(settings.pipeline_name))
    return Done(f"version {version_of(arn)} is Approved ({decision.description('the pipeline')})")


def record_rejection(event: dict[str, Any]) -> None:
    """Mark the version of the execution whose approval failed Rejected, with the reason."""
    settings = settings_from_env(Settings)
    detail = failed_approval(event, settings)
    actions = action_executions(settings.pipeline_name, detail["execution-id"])
    arn = registered_version(actions, settings.register_action)
    if arn is None:
        logger.info("the execution registered no version", extra={"execution": detail})
        return
    decision = decision_of(actions, settings.approval_action)
    if decision is None:
        decision = Decision(False, "the approval failed without a recorded answer", "")
    if approval_status(arn) == REJECTED:
        logger.info("already rejected", extra={"model_package": arn})
        return
    set_status(arn, REJECTED, decision.description(settings.pipeline_name))


def failed_approval(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The event's detail, checked to be this pipeline's approval failing (the rule's pattern)."""
    detail = event.get("detail") or {}
    expected = {
        "source": (event.get("source"), "aws.codepipeline"),
        "detail-type": (event.get("detail-type"), FAILED_ACTION_EVENT),
        "detail.pipeline": (detail.get("pipeline"), settings.pipeline_name),
        "detail.action": (detail.get("action"), settings.approval_action),
        "detail.state": (detail.get("state"), "FAILED"),
    }
    wrong = [
        f"{key} is {got!r}, not {want!r}" for key, (got, want) in expected.items() if got != want
    ]
    if not isinstance(detail.get("execution-id"), str):
        wrong.append("detail.execution-id is missing")
    if wrong:
        raise ValueError(f"not a failed {settings.approval_action} event: {'; '.join(wrong)}")
    return detail


def action_executions(pipeline: str, execution_id: str) -> list[dict[str, Any]]:
    """ListActionExecutions of one execution, every page."""
    pages = CODEPIPELINE.get_paginator("list_action_executions").paginate(
        pipelineName=pipeline, filter={"pipelineExecutionId": execution_id}
    )
    return [detail for page in pages for detail in page["actionExecutionDetails"]]


def decision_of(actions: list[dict[str, Any]], approval_action: str) -> Decision | None:
    """The newest answer to the approval action, None if it was never answered."""
    answered = [
        a
        for a in actions
        if a.get("actionName") == approval_action and a.get("status") in ("Succeeded", "Failed")
    ]
    if not answered:
        return None
    latest = max(answered, key=lambda a: a.get("lastUpdateTime") or a.get("startTime"))
    result = latest.get("output", {}).get("executionResult", {})
    approved = latest["status"] == "Succeeded"
    comment = (
        result.get("externalExecutionSummary")
        if approved
        else result.get("errorDetails", {}).get("message")
    ) or "(no comment)"
    return Decision(approved, comment, latest.get("updatedBy", ""))


def registered_version(actions: list[dict[str, Any]], register_action: str) -> str | None:
    """The package ARN RegisterModel reported as its output variable in this execution."""
    for action in actions:
        if action.get("actionName") == register_action and action.get("status") == "Succeeded":
            variables = action.get("output", {}).get("outputVariables", {})
            if variables.get("ModelPackageArn"):
                return str(variables["ModelPackageArn"])
    return None


def approval_status(arn: str) -> str:
    described = SAGEMAKER.describe_model_package(ModelPackageName=arn)
    return str(described.get("ModelApprovalStatus", PENDING))


def set_status(arn: str, status: str, description: str) -> None:
    SAGEMAKER.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=description
    )
    logger.info("approval recorded", extra={"model_package": arn, "status": status})
