"""Run a pipeline definition stage by stage, the way CodePipeline drives its actions.

Lambda actions get a CodePipeline job event and must report through the job API; a
continuation token re-invokes the function after a short pause. Artifacts are zips in the
pipeline's S3 artifact bucket, as in AWS.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from localcloud.codepipeline.definition import Action, PipelineDefinition
from localcloud.core.signing import Credentials

SUCCEEDED, FAILED, IN_PROGRESS = "Succeeded", "Failed", "InProgress"


class ActionFailed(Exception):
    """An action ended in failure; the message is what CodePipeline would show."""


@dataclass
class ActionRecord:
    """How one action went, for the live view and the run report."""

    stage: str
    action: str
    status: str = IN_PROGRESS
    started: float = field(default_factory=time.time)
    seconds: float = 0.0
    message: str = ""
    invocations: int = 0


@dataclass
class StageRecord:
    """How one stage went."""

    name: str
    status: str = IN_PROGRESS
    seconds: float = 0.0
    actions: list[ActionRecord] = field(default_factory=list)


@dataclass
class RunReport:
    """The JSON report of one run: timings, outcome, and the JSON each artifact carried."""

    execution_id: str
    pipeline: str
    status: str = IN_PROGRESS
    started: float = field(default_factory=time.time)
    seconds: float = 0.0
    message: str = ""
    stages: list[StageRecord] = field(default_factory=list)
    artifacts: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A plain dictionary for `json.dump`."""
        return asdict(self)


class JobResults(Protocol):
    """The part of the job API the runner needs."""

    def open_job(self, details: dict[str, Any]) -> str: ...

    def wait_result(self, job_id: str, timeout: float) -> Any: ...


@dataclass(frozen=True)
class ActionServices:
    """What the runner calls out to for each kind of action."""

    s3: Any
    jobs: JobResults
    invoke_lambda: Callable[[str, dict[str, Any]], Any]
    source_code: Callable[[], tuple[bytes, str]]
    build_image: Callable[[bytes, dict[str, Any], str], bytes]
    approve: Callable[[str, str, dict[str, Any]], tuple[bool, str]]
    # What jobs get as artifactCredentials: temporary ones the cloud's edge accepts, as on AWS.
    artifact_credentials: Credentials
    account_id: str = "123456789012"
    poll_seconds: float = 0.2
    lambda_result_timeout: float = 30.0


def zip_json(filename: str, document: dict[str, Any]) -> bytes:
    """A one-file zip, the shape our artifacts have."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(filename, json.dumps(document, indent=2))
    return buffer.getvalue()


def read_json_artifact(data: bytes) -> dict[str, Any] | None:
    """The JSON inside a one-file JSON artifact, or None for any other artifact."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if len(names) == 1 and names[0].endswith(".json"):
                return json.loads(archive.read(names[0]))
    except (zipfile.BadZipFile, ValueError):
        return None
    return None


class PipelineRunner:
    """Execute one run of a pipeline definition."""

    def __init__(
        self,
        definition: PipelineDefinition,
        services: ActionServices,
        observer: Callable[[RunReport], None] = lambda report: None,
    ) -> None:
        self.definition = definition
        self.services = services
        self.observer = observer
        self.report = RunReport(execution_id=str(uuid.uuid4()), pipeline=definition.name)
        self._artifacts: dict[str, dict[str, str]] = {}
        self._revision = ""

    def run(self) -> RunReport:
        """Run every stage in order; the first failed action stops the run."""
        try:
            for stage in self.definition.stages:
                record = StageRecord(stage.name)
                self.report.stages.append(record)
                started = time.monotonic()
                try:
                    for action in stage.actions:
                        self._run_action(record, action)
                    record.status = SUCCEEDED
                finally:
                    record.seconds = round(time.monotonic() - started, 3)
                    if record.status == IN_PROGRESS:
                        record.status = FAILED
                    self.observer(self.report)
            self.report.status = SUCCEEDED
        except ActionFailed as failure:
            self.report.status = FAILED
            self.report.message = str(failure)
        finally:
            self.report.seconds = round(time.time() - self.report.started, 3)
            self.observer(self.report)
        return self.report

    def _run_action(self, stage: StageRecord, action: Action) -> None:
        record = ActionRecord(stage.name, action.name)
        stage.actions.append(record)
        self.observer(self.report)
        started = time.monotonic()
        try:
            handler = {
                "Source": self._source,
                "Build": self._build,
                "Invoke": self._invoke,
                "Approval": self._approval,
            }.get(action.category)
            if handler is None:
                raise ActionFailed(f"{action.name}: action category {action.category} unsupported")
            record.message = handler(action, record) or ""
            record.status = SUCCEEDED
        except ActionFailed as failure:
            record.status, record.message = FAILED, str(failure)
            raise ActionFailed(f"{stage.name}/{action.name}: {failure}") from None
        finally:
            record.seconds = round(time.monotonic() - started, 3)
            self.observer(self.report)

    # --- artifacts -----------------------------------------------------------------------
    def _key(self, name: str) -> str:
        return f"{self.definition.name}/{name}/{self.report.execution_id}.zip"

    def _store(self, name: str, data: bytes) -> None:
        """Put an artifact the runner itself produced (source, build)."""
        bucket = self.definition.artifact_bucket
        self.services.s3.put_object(Bucket=bucket, Key=self._key(name), Body=data)
        self._register(name, data)

    def _register(self, name: str, data: bytes) -> None:
        """Remember where an artifact lives and keep its JSON for the report."""
        self._artifacts[name] = {
            "bucketName": self.definition.artifact_bucket,
            "objectKey": self._key(name),
        }
        document = read_json_artifact(data)
        if document is not None:
            self.report.artifacts[name] = document

    def _fetch(self, name: str) -> bytes:
        if name not in self._artifacts:
            raise ActionFailed(f"input artifact {name} was not produced by an earlier action")
        location = self._artifacts[name]
        response = self.services.s3.get_object(
            Bucket=location["bucketName"], Key=location["objectKey"]
        )
        return response["Body"].read()

    def _artifact_list(self, names: tuple[str, ...]) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "revision": self._revision or None,
                "location": {
                    "type": "S3",
                    "s3Location": {
                        "bucketName": self.definition.artifact_bucket,
                        "objectKey": self._key(name),
                    },
                },
            }
            for name in names
        ]

    # --- action kinds --------------------------------------------------------------------
    def _source(self, action: Action, record: ActionRecord) -> str:
        if action.provider == "S3":
            bucket = action.configuration["S3Bucket"]
            key = action.configuration["S3ObjectKey"]
            try:
                data = self.services.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except self.services.s3.exceptions.NoSuchKey:
                raise ActionFailed(
                    f"the source object s3://{bucket}/{key} does not exist"
                ) from None
            self._store(action.output_artifacts[0], data)
            return f"s3://{bucket}/{key}"
        data, revision = self.services.source_code()
        self._revision = revision
        self._store(action.output_artifacts[0], data)
        return f"revision {revision}"

    def _build(self, action: Action, record: ActionRecord) -> str:
        source = self._fetch(action.input_artifacts[0])
        try:
            output = self.services.build_image(source, action.configuration, self._revision)
        except RuntimeError as error:
            raise ActionFailed(str(error)) from None
        self._store(action.output_artifacts[0], output)
        detail = read_json_artifact(output) or {}
        return str(detail.get("ImageURI", ""))

    def _approval(self, action: Action, record: ActionRecord) -> str:
        approved, comment = self.services.approve(record.stage, action.name, action.configuration)
        if not approved:
            raise ActionFailed(f"rejected: {comment}")
        return comment

    def _invoke(self, action: Action, record: ActionRecord) -> str:
        function = action.configuration["FunctionName"]
        continuation: str | None = None
        while True:
            data: dict[str, Any] = {
                "actionConfiguration": {"configuration": dict(action.configuration)},
                "inputArtifacts": self._artifact_list(action.input_artifacts),
                "outputArtifacts": self._artifact_list(action.output_artifacts),
                "artifactCredentials": {
                    "accessKeyId": self.services.artifact_credentials.access_key_id,
                    "secretAccessKey": self.services.artifact_credentials.secret_access_key,
                    "sessionToken": self.services.artifact_credentials.session_token,
                    "expirationTime": int(time.time() * 1000) + 3_600_000,
                },
            }
            if continuation is not None:
                data["continuationToken"] = continuation
            job_id = self.services.jobs.open_job(data)
            event = {
                "CodePipeline.job": {
                    "id": job_id,
                    "accountId": self.services.account_id,
                    "data": data,
                }
            }
            record.invocations += 1
            outcome = self.services.invoke_lambda(function, event)
            error = getattr(outcome, "error", None)
            result = self.services.jobs.wait_result(
                job_id, 0.0 if error else self.services.lambda_result_timeout
            )
            if result is None:
                reason = f"the function failed: {error}" if error else "no job result reported"
                raise ActionFailed(f"{reason} (function {function})")
            if not result.succeeded:
                raise ActionFailed(result.message or "the function reported failure")
            if not result.continuation_token:
                break
            continuation = result.continuation_token
            time.sleep(self.services.poll_seconds)
        for name in action.output_artifacts:
            try:
                self._register(name, self._fetch_written(name))
            except self.services.s3.exceptions.NoSuchKey:
                raise ActionFailed(f"the function did not write output artifact {name}") from None
        return result.message or ""

    def _fetch_written(self, name: str) -> bytes:
        bucket = self.definition.artifact_bucket
        return self.services.s3.get_object(Bucket=bucket, Key=self._key(name))["Body"].read()
