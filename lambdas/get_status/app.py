"""GetStatus: wait for a training job or an endpoint to settle, polling by continuation token.

Once prod is InService on the configuration deployed, its autoscaling is (re)registered with
the stack's limits (prod_autoscaling): Application Auto Scaling takes only an existing endpoint.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from codepipeline_job import (
    CodePipelineJob,
    ConfigurationError,
    Done,
    JobFailed,
    Pending,
    describe_endpoint,
    run_job,
    settings_from_env,
)
from json_logging import get_logger
from prod_autoscaling import AutoscalingSettings, keep_autoscaling

# Each stage reads this file from its input artifact and writes it, completed, to its output.
STAGE_FILES = {"Training": "training_job.json", "Deployment": "deployment.json"}
IN_PROGRESS = frozenset({"InProgress", "Stopping", "Creating", "Updating", "SystemUpdating"})
SUCCEEDED = frozenset({"Completed", "InService"})
FAILED = frozenset(
    {"Failed", "Stopped", "RollingBack", "OutOfService", "UpdateRollbackFailed", "Deleting"}
)

APPROVAL_DESCRIPTION_LIMIT = 1024  # UpdateModelPackage's ApprovalDescription
SAGEMAKER = boto3.client("sagemaker")
AUTOSCALING = boto3.client("application-autoscaling")
SCALED_ENV = "prod"
logger = get_logger("get_status")


@dataclass(frozen=True)
class Settings:
    """The function's environment, set by templates/02-pipeline.yml."""

    status_deadline_seconds: int


@dataclass(frozen=True)
class Observation:
    """What SageMaker says about the resource the pipeline waits for."""

    kind: str
    name: str
    status: str
    detail: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    variant: str = ""  # an endpoint's (first) production variant

    def describe(self) -> str:
        """`training job X is InProgress (Training)`, for messages."""
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.kind} {self.name} is {self.status}{detail}"


def handler(event: dict[str, Any], context: Any) -> None:
    """Lambda entry point: one CodePipeline job."""
    run_job(event, context, check_status)


def check_status(job: CodePipelineJob) -> Done | Pending:
    """Look once: finished → output artifact, still going → continuation token, else failure."""
    settings = settings_from_env(Settings)
    stage = parse_stage(job.user_parameters)
    now = time.time()
    token = job.continuation_token  # None on the first poll, which starts the deadline
    first_poll = now if token is None else parse_token(token)
    filename = STAGE_FILES[stage]
    document = job.read_json(job.input_artifact, filename, *REQUIRED[stage])
    seen = OBSERVE[stage](document)
    logger.info("status", extra={"resource": seen.name, "status": seen.status})
    if seen.status in SUCCEEDED:
        done = seen.describe()
        if stage == "Deployment" and document.get("Environment") == SCALED_ENV:
            scaling = settings_from_env(AutoscalingSettings)
            done += "; " + keep_autoscaling(AUTOSCALING, scaling, seen.name, seen.variant)
        job.write_json(job.output_artifact, filename, {**document, **seen.outputs})
        return Done(done)
    waited = int(now - first_poll)
    if seen.status in IN_PROGRESS:
        if waited > settings.status_deadline_seconds:
            raise JobFailed(
                f"gave up after {waited} s (STATUS_DEADLINE_SECONDS="
                f"{settings.status_deadline_seconds}): {seen.describe()}"
            )
        return Pending(
            f"{seen.describe()}; waiting for {waited} s", json.dumps({"first_poll": first_poll})
        )
    if seen.status in FAILED:
        raise JobFailed(seen.describe())
    raise JobFailed(f"{seen.describe()}, a status this function does not know")


def parse_stage(user_parameters: dict[str, Any]) -> str:
    """The stage to watch, from UserParameters `{"stage": "Training" | "Deployment"}`."""
    stage = user_parameters.get("stage")
    if stage not in STAGE_FILES or set(user_parameters) != {"stage"}:
        raise ConfigurationError(
            f'UserParameters must be {{"stage": "Training"}} or {{"stage": "Deployment"}}, '
            f"got {json.dumps(user_parameters)}"
        )
    return stage


def parse_token(token: str) -> float:
    """The time of the first poll, kept in the continuation token."""
    try:
        first_poll = json.loads(token)["first_poll"]
    except (ValueError, TypeError, KeyError):
        first_poll = None
    if not isinstance(first_poll, int | float):
        raise JobFailed(f"continuation token {token!r} is not one this function wrote")
    return float(first_poll)


def observe_training(document: dict[str, Any]) -> Observation:
    """The training job's status; once Completed, the model it wrote."""
    name = document["TrainingJobName"]
    job = SAGEMAKER.describe_training_job(TrainingJobName=name)
    status = job["TrainingJobStatus"]
    if status == "Completed":
        metrics = ", ".join(
            f"{m['MetricName']}={m['Value']:.4g}" for m in job.get("FinalMetricDataList", [])
        )
        return Observation(
            "training job",
            name,
            status,
            metrics,
            {"ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"]},
        )
    detail = job.get("FailureReason") or job.get("SecondaryStatus", "")
    return Observation("training job", name, status, detail)


def observe_endpoint(document: dict[str, Any]) -> Observation:
    """The endpoint's status, and whether it is really serving the configuration deployed."""
    name, wanted = document["EndpointName"], document["EndpointConfigName"]
    endpoint = describe_endpoint(SAGEMAKER, name)
    if endpoint is None:
        raise JobFailed(f"endpoint {name} does not exist (deleted while deploying?)")
    status = endpoint["EndpointStatus"]
    reason = endpoint.get("FailureReason", "")
    # A failed or rolled-back UpdateEndpoint leaves the endpoint InService on its old
    # configuration, with the reason in FailureReason: a failed deployment, not a success.
    if status == "InService" and endpoint["EndpointConfigName"] != wanted:
        failure = (
            f"endpoint {name} is InService but still on {endpoint['EndpointConfigName']}, "
            f"not {wanted}: the update failed: {reason or 'no reason given'}"
        )
        if "ModelPackageArn" in document:
            failure += "; " + reject_version(document["ModelPackageArn"], failure)
        raise JobFailed(failure)
    variants = endpoint.get("ProductionVariants") or [{}]
    return Observation(
        "endpoint",
        name,
        status,
        reason,
        {"EndpointStatus": status},
        variants[0].get("VariantName", ""),
    )


def reject_version(arn: str, failure: str) -> str:
    """Mark a version prod could not take Rejected, with why; so no approval change or
    registry follower deploys it again. What was done, for the failure message."""
    SAGEMAKER.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus="Rejected",
        ApprovalDescription=f"Rejected by the pipeline: {failure}"[:APPROVAL_DESCRIPTION_LIMIT],
    )
    logger.info("rolled-back version rejected", extra={"arn": arn})
    return f"version {arn} is now Rejected with this reason"


REQUIRED = {"Training": ("TrainingJobName",), "Deployment": ("EndpointName", "EndpointConfigName")}
OBSERVE: dict[str, Callable[[dict[str, Any]], Observation]] = {
    "Training": observe_training,
    "Deployment": observe_endpoint,
}
