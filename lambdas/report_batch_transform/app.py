"""ReportBatchTransform: when one of this project's batch transform jobs ends (SageMaker's
"Transform Job State Change" with Completed, Failed or Stopped, through BatchTransformEndRule),
the topic hears how it went: records in (lines of the input object), predictions out (lines of
its `.out`), where the predictions are, how long the job took, and on failure SageMaker's reason.

Both objects are counted as streams, a chunk at a time, so a file of any size fits the
function's memory. A count that cannot be made (the object is gone, say) is reported as such.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from batch_scoring import (
    INPUT_PREFIX,
    BatchInput,
    is_batch_job_of,
    sns_subject,
    split_s3_uri,
)
from json_logging import get_logger, set_correlation

STATE_CHANGE_EVENT = ("aws.sagemaker", "SageMaker Transform Job State Change")
ENDED = frozenset({"Completed", "Failed", "Stopped"})
CHUNK_BYTES = 1024 * 1024
BLANK_LINE = re.compile(rb"^[ \t\r\f\v]*$", re.MULTILINE)  # a line of no record
EPOCH_MILLISECONDS_FROM = 10**11  # a larger epoch number counts milliseconds, not seconds

S3 = boto3.client("s3")
SNS = boto3.client("sns")
logger = get_logger("report_batch_transform")


class ConfigurationError(Exception):
    """The function's environment is not what the template sets."""


@dataclass(frozen=True)
class Settings:
    """The function's environment, set by templates/02-pipeline.yml."""

    project_name: str
    data_bucket: str
    notification_topic_arn: str

    @classmethod
    def from_env(cls) -> Settings:
        """Read every field from its upper-cased variable; all are required."""
        values = {f.name: os.environ.get(f.name.upper(), "") for f in fields(cls)}
        missing = [name.upper() for name, value in values.items() if not value]
        if missing:
            raise ConfigurationError(f"environment variable(s) {', '.join(missing)} not set")
        return cls(**values)


@dataclass(frozen=True)
class EndedJob:
    """The read-only view of a transform job state change (its detail is DescribeTransformJob's
    answer): name, status, reason, model, input, output path and times."""

    name: str
    status: str
    failure_reason: str
    model: str
    input_uri: str
    output_path: str
    started: datetime | None
    ended: datetime | None

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> EndedJob:
        """The event's job; ValueError when it is not a transform job state change."""
        if (event.get("source"), event.get("detail-type")) != STATE_CHANGE_EVENT:
            raise ValueError(
                f"not a transform job state change: source {event.get('source')!r}, "
                f"detail-type {event.get('detail-type')!r}"
            )
        detail = event.get("detail") or {}
        source = ((detail.get("TransformInput") or {}).get("DataSource") or {}).get(
            "S3DataSource"
        ) or {}
        return cls(
            name=str(detail.get("TransformJobName", "")),
            status=str(detail.get("TransformJobStatus", "")),
            failure_reason=str(detail.get("FailureReason") or ""),
            model=str(detail.get("ModelName", "")),
            input_uri=str(source.get("S3Uri", "")),
            output_path=str((detail.get("TransformOutput") or {}).get("S3OutputPath", "")),
            started=event_time(detail.get("TransformStartTime") or detail.get("CreationTime")),
            ended=event_time(detail.get("TransformEndTime")),
        )

    @property
    def seconds(self) -> float | None:
        """How long the job ran, None when the event does not say."""
        if self.started is None or self.ended is None:
            return None
        return max((self.ended - self.started).total_seconds(), 0.0)


@dataclass(frozen=True)
class Count:
    """The lines of one object, or why they could not be counted."""

    uri: str
    lines: int | None
    problem: str = ""

    def __str__(self) -> str:
        return f"{self.lines}" if self.lines is not None else f"not counted ({self.problem})"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: one ended job of this project, one notification; anything else is
    logged and left alone."""
    job = EndedJob.from_event(event)
    set_correlation(job=job.name)
    settings = Settings.from_env()
    if not is_batch_job_of(settings.project_name, job.name):
        logger.info("not a batch job of this project", extra={"status": job.status})
        return {"ignored": f"{job.name!r} is not a batch job of {settings.project_name}"}
    if job.status not in ENDED:
        logger.info("the job has not ended", extra={"status": job.status})
        return {"ignored": f"{job.name} is {job.status}"}
    batch = batch_input_of(job, settings.data_bucket)
    records = count_object(batch.uri)
    predictions = count_object(batch.output_uri) if job.status == "Completed" else None
    subject, message = ended_message(settings.project_name, job, batch, records, predictions)
    attributes = {
        name: {"DataType": "Number", "StringValue": str(count.lines)}
        for name, count in (("records_in", records), ("predictions_out", predictions))
        if count is not None and count.lines is not None
    }
    logger.info(subject, extra={"detail": message})
    SNS.publish(
        TopicArn=settings.notification_topic_arn,
        Subject=subject,
        Message=message,
        MessageAttributes=attributes,
    )
    return {
        "job": job.name,
        "status": job.status,
        "records_in": records.lines,
        "predictions_out": predictions.lines if predictions else None,
    }


def batch_input_of(job: EndedJob, data_bucket: str) -> BatchInput:
    """The job's input object, checked to be a file of the data bucket's `batch/input/`."""
    bucket, key = split_s3_uri(job.input_uri)
    if bucket != data_bucket or not key.startswith(INPUT_PREFIX):
        raise ValueError(f"{job.name} reads {job.input_uri}, not a file of s3://{data_bucket}/")
    return BatchInput(bucket, key)


def event_time(value: Any) -> datetime | None:
    """A time of the event's detail: ISO 8601 text, or an epoch number (seconds or
    milliseconds, as a number or its text), as SageMaker's events carry them."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    if number is not None:
        seconds = number / 1000 if number >= EPOCH_MILLISECONDS_FROM else number
        return datetime.fromtimestamp(seconds, UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        logger.warning("a time the report cannot read", extra={"value": str(value)})
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def count_lines(chunks: Iterable[bytes]) -> int:
    """The lines that hold something (blank ones are no records), over chunks of any size:
    only the chunk being read and the line it ends inside are held."""
    count = 0
    pending = b""
    for chunk in chunks:
        data = pending + chunk
        end = data.rfind(b"\n")
        if end < 0:
            pending = data
            continue
        count += lines_in(data[:end])
        pending = data[end + 1 :]
    return count + (lines_in(pending) if pending else 0)


def lines_in(text: bytes) -> int:
    """The lines of `text` (its newlines plus one) that are not blank."""
    return text.count(b"\n") + 1 - sum(1 for _ in BLANK_LINE.finditer(text))


def count_object(uri: str) -> Count:
    """The lines of an S3 object, read as a stream."""
    bucket, key = split_s3_uri(uri)
    try:
        body = S3.get_object(Bucket=bucket, Key=key)["Body"]
        return Count(uri, count_lines(body.iter_chunks(CHUNK_BYTES)))
    except ClientError as err:
        error = err.response["Error"]
        logger.warning("could not count an object", extra={"uri": uri, "error": error})
        return Count(uri, None, f"{error.get('Code')}: {error.get('Message', '')}".strip())


def ended_message(
    project: str, job: EndedJob, batch: BatchInput, records: Count, predictions: Count | None
) -> tuple[str, str]:
    """(subject, message) of an ended job, for the people subscribed to the topic."""
    name = batch.key.rpartition("/")[2]
    took = f" in {job.seconds:.0f} s" if job.seconds is not None else ""
    lines = [f"Batch transform job {job.name} {job.status}{took}, with model {job.model}."]
    lines.append(f"Records in: {records} ({batch.uri})")
    if predictions is not None:
        lines.append(f"Predictions out: {predictions} ({batch.output_uri})")
        if None not in (records.lines, predictions.lines) and records.lines != predictions.lines:
            lines.append(
                f"The counts differ: {records.lines} records but {predictions.lines} "
                "predictions; check the file for lines the model could not score."
            )
    if job.status == "Failed":
        lines.append(f"Failure reason: {job.failure_reason or 'SageMaker gave none'}")
        lines.append(f"No predictions are written for a failed file ({batch.output_uri}).")
    elif job.status == "Stopped":
        lines.append(f"The job was stopped before it finished: {batch.output_uri} is not written.")
    subject = sns_subject(f"{project} batch scoring {job.status}: {name}")
    return subject, "\n".join(lines)
