"""StartBatchTransform: an object uploaded under `batch/input/` in the data bucket (S3's "Object
Created" event, through BatchInputRule) is scored by a SageMaker transform job with the model
prod serves right now, its predictions written to `batch/output/<sub-path>/<file>.out`.

The file is headerless CSV of raw records, one per line (what `/invocations` takes as
`text/csv`); the job sends it in mini-batches of lines and writes one prediction per line, in
order. Folder markers and `.out` files are ignored. When prod does not exist (or serves nothing
yet) or SageMaker refuses the job, the topic hears why and nothing is retried: upload the file
again once prod is up. The job's end is ReportBatchTransform's.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from batch_scoring import BatchInput, ignored_because, sns_subject, transform_job_name
from json_logging import get_logger, set_correlation

UPLOAD_EVENT = ("aws.s3", "Object Created")
PROD = "prod"  # the endpoint `<project>-prod`, which DeployModel keeps
# Statuses in which an endpoint's EndpointConfigName is the configuration it serves.
SERVING = frozenset({"InService", "Updating", "SystemUpdating", "RollingBack"})
CSV = "text/csv"
INSTANCE_TYPE = re.compile(r"ml\.[a-z0-9]+\.[a-z0-9]+")

SAGEMAKER = boto3.client("sagemaker")
SNS = boto3.client("sns")
logger = get_logger("start_batch_transform")


class ConfigurationError(Exception):
    """The function's environment is not what the template sets."""


class NotStarted(Exception):
    """No transform job was started for the upload; the message says why, for the topic."""


@dataclass(frozen=True)
class Settings:
    """The function's environment, set by templates/02-pipeline.yml."""

    project_name: str
    data_bucket: str
    batch_instance_type: str
    notification_topic_arn: str

    @classmethod
    def from_env(cls) -> Settings:
        """Read every field from its upper-cased variable; all are required."""
        values = {f.name: os.environ.get(f.name.upper(), "") for f in fields(cls)}
        missing = [name.upper() for name, value in values.items() if not value]
        if missing:
            raise ConfigurationError(f"environment variable(s) {', '.join(missing)} not set")
        if not INSTANCE_TYPE.fullmatch(values["batch_instance_type"]):
            raise ConfigurationError(
                "BATCH_INSTANCE_TYPE must be a SageMaker instance type such as ml.m5.large, "
                f"got {values['batch_instance_type']!r}"
            )
        return cls(**values)

    @property
    def prod_endpoint(self) -> str:
        """`<project>-prod`."""
        return f"{self.project_name}-{PROD}"


@dataclass(frozen=True)
class Upload:
    """The read-only view of an "Object Created" event: which object, and the event's identity."""

    event_id: str
    time: datetime
    bucket: str
    key: str

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Upload:
        """The event's object; ValueError when it is not S3's "Object Created"."""
        if (event.get("source"), event.get("detail-type")) != UPLOAD_EVENT:
            raise ValueError(
                f"not an S3 Object Created event: source {event.get('source')!r}, "
                f"detail-type {event.get('detail-type')!r}"
            )
        detail = event.get("detail") or {}
        bucket = (detail.get("bucket") or {}).get("name")
        key = (detail.get("object") or {}).get("key")
        if not isinstance(bucket, str) or not isinstance(key, str) or not event.get("id"):
            raise ValueError("the event names no bucket, key or event id")
        when = datetime.fromisoformat(str(event.get("time", "")).replace("Z", "+00:00"))
        return cls(str(event["id"]), when.astimezone(UTC), bucket, key)


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    """Lambda entry point: one upload, at most one transform job; never raises for the upload
    itself (a retry would only say the same thing to the topic again)."""
    upload = Upload.from_event(event)
    set_correlation(event_id=upload.event_id, key=upload.key)
    settings = Settings.from_env()
    reason = ignored_because(upload.key)
    if reason is None and upload.bucket != settings.data_bucket:
        reason = f"bucket {upload.bucket!r} is not the data bucket {settings.data_bucket!r}"
    if reason is not None:
        logger.info("upload ignored", extra={"reason": reason})
        return {"ignored": reason}
    batch = BatchInput(upload.bucket, upload.key)
    job = transform_job_name(settings.project_name, upload.time, upload.event_id)
    try:
        model = prod_model(settings.prod_endpoint)
        start_transform(settings, batch, job, model)
    except NotStarted as err:
        notify_not_started(settings, batch, str(err))
        return {"failed": str(err)}
    return {"started": job, "model": model, "output": batch.output_uri}


def prod_model(endpoint: str) -> str:
    """The model prod serves now: DescribeEndpoint → its configuration → the variant's model."""
    try:
        described = SAGEMAKER.describe_endpoint(EndpointName=endpoint)
    except ClientError as err:
        if err.response["Error"]["Code"] == "ValidationException":  # "Could not find endpoint"
            raise NotStarted(
                f"prod endpoint {endpoint} does not exist yet: run the pipeline until a model "
                "is approved into prod, then upload the file again"
            ) from None
        raise
    status = described["EndpointStatus"]
    if status not in SERVING:
        reason = f" ({described['FailureReason']})" if described.get("FailureReason") else ""
        raise NotStarted(
            f"prod endpoint {endpoint} is {status}{reason} and serves no model to score with: "
            "upload the file again once it is InService"
        )
    config = SAGEMAKER.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    return str(config["ProductionVariants"][0]["ModelName"])


def transform_job_request(
    settings: Settings, batch: BatchInput, job: str, model: str
) -> dict[str, Any]:
    """The CreateTransformJob parameters: the one object, CSV lines in mini-batches, one
    prediction per line back.

    No KmsKeyId: the data bucket encrypts with S3-managed keys (SSE-S3), which need none.
    """
    return {
        "TransformJobName": job,
        "ModelName": model,
        "BatchStrategy": "MultiRecord",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": batch.uri}},
            "ContentType": CSV,
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": batch.output_path,
            "Accept": CSV,
            "AssembleWith": "Line",
        },
        "TransformResources": {"InstanceType": settings.batch_instance_type, "InstanceCount": 1},
        "Tags": [batch.tag()],
    }


def start_transform(settings: Settings, batch: BatchInput, job: str, model: str) -> None:
    """CreateTransformJob; a job of this name already existing is this same upload, redelivered."""
    try:
        SAGEMAKER.create_transform_job(**transform_job_request(settings, batch, job, model))
    except ClientError as err:
        error = err.response["Error"]
        if error["Code"] == "ResourceInUse":
            logger.info("the upload's job exists already", extra={"job": job})
            return
        raise NotStarted(
            f"SageMaker refused transform job {job}: {error['Code']}: {error.get('Message', '')}"
        ) from None
    logger.info(
        "transform job started",
        extra={"job": job, "model": model, "input": batch.uri, "output": batch.output_uri},
    )


def not_started_message(project: str, batch: BatchInput, reason: str) -> tuple[str, str]:
    """(subject, message) telling the topic an upload was not scored, and why."""
    name = batch.key.rpartition("/")[2]
    subject = sns_subject(f"{project} batch scoring not started: {name}")
    message = f"{batch.uri} was not scored: {reason}. Nothing was written to {batch.output_uri}."
    return subject, message


def notify_not_started(settings: Settings, batch: BatchInput, reason: str) -> None:
    """Tell the topic (and the log) that an upload was not scored."""
    subject, message = not_started_message(settings.project_name, batch, reason)
    logger.warning(subject, extra={"detail": message})
    SNS.publish(TopicArn=settings.notification_topic_arn, Subject=subject, Message=message)
