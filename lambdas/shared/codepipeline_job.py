"""The CodePipeline job protocol for Lambda invoke actions: event view, artifacts, one result.

Every pipeline Lambda hands `run_job` a plain function taking a `CodePipelineJob` and returning
`Done` or `Pending`; anything it raises becomes the job's one failure result, with a message
written for the person watching the pipeline.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from json_logging import get_logger, set_correlation

CODEPIPELINE = boto3.client("codepipeline")
logger = get_logger("codepipeline_job")

# PutJobFailureResult and executionDetails.summary limits (CodePipeline API reference).
FAILURE_MESSAGE_MAX = 5000
SUMMARY_MAX = 2048
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # and at most 63 in all
EXECUTION_ID = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")
SettingsT = TypeVar("SettingsT")


class JobFailed(Exception):
    """The action failed; the message says why, for the pipeline's console."""

    failure_type = "JobFailed"


class ConfigurationError(JobFailed):
    """The action is set up wrong (UserParameters, artifacts, environment), not the model."""

    failure_type = "ConfigurationError"


@dataclass(frozen=True)
class Done:
    """The action finished; CodePipeline moves on, with the action's output variables if any."""

    summary: str
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Pending:
    """The action is still working; CodePipeline invokes the function again with the token."""

    summary: str
    continuation_token: str


@dataclass(frozen=True)
class Artifact:
    """One input or output artifact: a zip in the pipeline's artifact bucket."""

    name: str
    bucket: str
    key: str

    @property
    def url(self) -> str:
        """Where it lives, for messages."""
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class CodePipelineJob:
    """Read-only view of a CodePipeline job event; its repr never shows the credentials."""

    id: str
    inputs: tuple[Artifact, ...]
    outputs: tuple[Artifact, ...]
    user_parameters_text: str
    continuation_token: str | None
    credentials: Mapping[str, str] = field(repr=False)
    encryption_key: Mapping[str, str] | None = field(repr=False, default=None)

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> CodePipelineJob:
        """Wrap the `CodePipeline.job` event Lambda receives."""
        job = event["CodePipeline.job"]
        data = job["data"]
        return cls(
            id=job["id"],
            inputs=tuple(_artifact(a) for a in data.get("inputArtifacts", [])),
            outputs=tuple(_artifact(a) for a in data.get("outputArtifacts", [])),
            user_parameters_text=data["actionConfiguration"]["configuration"].get(
                "UserParameters", ""
            ),
            continuation_token=data.get("continuationToken"),
            credentials=data["artifactCredentials"],
            encryption_key=data.get("encryptionKey"),
        )

    @property
    def user_parameters(self) -> dict[str, Any]:
        """The action's UserParameters as a JSON object ({} when there are none)."""
        if not self.user_parameters_text.strip():
            return {}
        try:
            value = json.loads(self.user_parameters_text)
        except json.JSONDecodeError as err:
            raise ConfigurationError(f"UserParameters is not valid JSON: {err}") from None
        if not isinstance(value, dict):
            raise ConfigurationError(
                f"UserParameters must be a JSON object, got {type(value).__name__}"
            )
        return value

    @property
    def input_artifact(self) -> Artifact:
        """The action's one input artifact."""
        return _only(self.inputs, "input")

    @property
    def output_artifact(self) -> Artifact:
        """The action's one output artifact."""
        return _only(self.outputs, "output")

    def read_json(self, artifact: Artifact, filename: str, *required: str) -> dict[str, Any]:
        """The JSON object `filename` inside an artifact zip, checked for the `required` keys."""
        try:
            data = self._s3.get_object(Bucket=artifact.bucket, Key=artifact.key)["Body"].read()
        except ClientError as err:
            raise JobFailed(
                f"cannot read input artifact {artifact.name} ({artifact.url}): {err}"
            ) from None
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = archive.namelist()
                if filename not in names:
                    raise JobFailed(
                        f"input artifact {artifact.name} has no {filename} "
                        f"(it holds: {', '.join(names) or 'nothing'})"
                    )
                document = json.loads(archive.read(filename))
        except zipfile.BadZipFile:
            raise JobFailed(f"input artifact {artifact.name} is not a zip") from None
        except json.JSONDecodeError as err:
            raise JobFailed(f"{filename} in {artifact.name} is not valid JSON: {err}") from None
        if not isinstance(document, dict):
            raise JobFailed(f"{filename} in {artifact.name} is not a JSON object")
        # Absent, null or empty is missing; false and 0 are values (a gate's "passed": false).
        missing = [key for key in required if document.get(key) in (None, "", [], {})]
        if missing:
            raise JobFailed(f"{filename} in {artifact.name} has no {', '.join(missing)}")
        return document

    def write_json(self, artifact: Artifact, filename: str, document: Mapping[str, Any]) -> None:
        """Write `document` as the one file of an output artifact zip."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(filename, json.dumps(document, indent=2, sort_keys=True))
        extra: dict[str, str] = {}
        if self.encryption_key and self.encryption_key.get("type") == "KMS":
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.encryption_key["id"]}
        self._s3.put_object(
            Bucket=artifact.bucket, Key=artifact.key, Body=buffer.getvalue(), **extra
        )
        logger.info("wrote output artifact", extra={"artifact": artifact.name, "file": filename})

    @cached_property
    def _s3(self) -> Any:
        # Artifacts are read with the pipeline's temporary credentials, not the function's role.
        return boto3.client(
            "s3",
            region_name=os.environ.get("AWS_REGION"),
            aws_access_key_id=self.credentials["accessKeyId"],
            aws_secret_access_key=self.credentials["secretAccessKey"],
            aws_session_token=self.credentials.get("sessionToken"),
            config=Config(signature_version="s3v4"),
        )


def _artifact(raw: Mapping[str, Any]) -> Artifact:
    location = raw["location"]["s3Location"]
    return Artifact(raw["name"], location["bucketName"], location["objectKey"])


def _only(artifacts: tuple[Artifact, ...], kind: str) -> Artifact:
    if len(artifacts) != 1:
        raise ConfigurationError(f"the action needs one {kind} artifact, has {len(artifacts)}")
    return artifacts[0]


def run_job(
    event: Mapping[str, Any], context: Any, action: Callable[[CodePipelineJob], Done | Pending]
) -> None:
    """Run one action on a job event and report exactly one result to CodePipeline."""
    job = CodePipelineJob.from_event(event)
    request_id = getattr(context, "aws_request_id", "-")
    set_correlation(job_id=job.id, request_id=request_id)
    logger.info("job received", extra={"job": repr(job)})
    outcome: Done | Pending | JobFailed
    try:
        outcome = action(job)
    except JobFailed as failure:
        outcome = failure
    except ClientError as err:  # botocore's message names the call, the code and the reason
        logger.exception("AWS call failed")
        outcome = JobFailed(str(err))
    except Exception as err:
        logger.exception("unexpected error")
        outcome = JobFailed(
            f"unexpected {type(err).__name__}: {err} (request {request_id}; see the function's log)"
        )
    report(job, outcome)


def report(job: CodePipelineJob, outcome: Done | Pending | JobFailed) -> None:
    """Send the job's one result: success, success with a continuation token, or failure."""
    if isinstance(outcome, JobFailed):
        message = _clip(str(outcome) or type(outcome).__name__, FAILURE_MESSAGE_MAX)
        logger.warning("job failed", extra={"reason": message})
        CODEPIPELINE.put_job_failure_result(
            jobId=job.id, failureDetails={"type": outcome.failure_type, "message": message}
        )
        return
    details = {"summary": _clip(outcome.summary, SUMMARY_MAX)}
    if isinstance(outcome, Pending):
        logger.info("job continues", extra={"summary": outcome.summary})
        CODEPIPELINE.put_job_success_result(
            jobId=job.id, continuationToken=outcome.continuation_token, executionDetails=details
        )
        return
    logger.info("job succeeded", extra={"summary": outcome.summary})
    variables = {"outputVariables": dict(outcome.variables)} if outcome.variables else {}
    CODEPIPELINE.put_job_success_result(jobId=job.id, executionDetails=details, **variables)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def settings_from_env(cls: type[SettingsT]) -> SettingsT:
    """Fill a settings dataclass from the environment: field `keep_last` reads `KEEP_LAST`."""
    values: dict[str, Any] = {}
    for spec in fields(cls):
        name = spec.name.upper()
        raw = os.environ.get(name, "")
        if not raw:
            if spec.default is MISSING:
                raise ConfigurationError(f"environment variable {name} is not set")
            continue
        convert = {"int": int, "float": float}.get(str(spec.type), str)
        try:
            values[spec.name] = convert(raw)
        except ValueError:
            raise ConfigurationError(
                f"environment variable {name}={raw!r} is not {spec.type}"
            ) from None
    return cls(**values)


def pipeline_execution_id(user_parameters: Mapping[str, Any]) -> str:
    """The execution a job belongs to, from UserParameters
    `{"execution_id": "#{codepipeline.PipelineExecutionId}"}` (the job event does not carry it)."""
    if unknown := sorted(set(user_parameters) - {"execution_id"}):
        raise ConfigurationError(f"UserParameters: unknown key(s) {', '.join(unknown)}")
    execution_id = user_parameters.get("execution_id")
    if not isinstance(execution_id, str) or not EXECUTION_ID.fullmatch(execution_id):
        raise ConfigurationError(
            'UserParameters: "execution_id" must be the pipeline execution id '
            f'("#{{codepipeline.PipelineExecutionId}}"), got {execution_id!r}'
        )
    return execution_id


def utc_stamp(now: datetime) -> str:
    """The time part of the pipeline's SageMaker names: YYYYmmdd-HHMMSS."""
    return now.strftime("%Y%m%d-%H%M%S")


def sagemaker_name(*parts: str) -> str:
    """Join parts with hyphens into a SageMaker resource name, or fail saying why it is invalid."""
    name = "-".join(parts)
    if len(name) > 63 or not SAGEMAKER_NAME.match(name):
        raise ConfigurationError(
            f"{name!r} is not a valid SageMaker name (at most 63 letters, digits and hyphens, "
            "starting and ending with a letter or digit): check PROJECT_NAME"
        )
    return name


def describe_endpoint(sagemaker: Any, name: str) -> dict[str, Any] | None:
    """DescribeEndpoint, or None when the endpoint does not exist."""
    try:
        return sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as err:
        # SageMaker reports a missing endpoint as a ValidationException "Could not find endpoint".
        if err.response["Error"]["Code"] == "ValidationException":
            return None
        raise
