"""Run a pipeline execution stage by stage, the way CodePipeline drives its actions.

Lambda actions get a CodePipeline job event and must report through the job API; a
continuation token re-invokes the function after a short pause. Artifacts are zips in the
pipeline's S3 artifact bucket, as in AWS. What CodePipeline decides around the actions (when
the execution may enter a stage, a stop, the answer to an approval) the runner asks its
`ExecutionControl` (`localcloud.codepipeline.models`). The runner's thread is the only writer of
its `RunReport`, and hands the control every whole step.
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
from localcloud.codepipeline.variables import UnresolvedVariable, resolve_configuration
from localcloud.core.signing import Credentials

SUCCEEDED, FAILED, IN_PROGRESS = "Succeeded", "Failed", "InProgress"
STOPPED, SUPERSEDED, ABANDONED = "Stopped", "Superseded", "Abandoned"
FAILED_ACTIONS, ALL_ACTIONS = "FAILED_ACTIONS", "ALL_ACTIONS"
JOB_FAILED = "JobFailed"  # errorDetails.code of an action whose job reported failure


class ActionFailed(Exception):
    """An action ended in failure; the message is what CodePipeline would show."""


class Abandoned(Exception):
    """A stop-and-abandon ended the action in progress."""


@dataclass
class ActionRecord:
    """How one action execution went, for the API, the live view and the run report."""

    stage: str
    action: str
    status: str = IN_PROGRESS
    started: float = field(default_factory=time.time)
    seconds: float = 0.0
    message: str = ""
    invocations: int = 0
    action_execution_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    last_change: float = field(default_factory=time.time)
    token: str | None = None  # a manual approval's, while it waits for an answer
    error_code: str | None = None
    external_execution_id: str | None = None
    updated_by: str | None = None
    revision: str | None = None  # a source action's
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    output_variables: dict[str, str] = field(default_factory=dict)


@dataclass
class StageRecord:
    """How one stage went: the latest execution of each of its actions."""

    name: str
    status: str = IN_PROGRESS
    seconds: float = 0.0
    actions: list[ActionRecord] = field(default_factory=list)
    manual_retries: int = 0
    last_retry: float | None = None  # when RetryStageExecution last ran it again


@dataclass
class RunReport:
    """One pipeline execution: timings, outcome, and the JSON each artifact carried."""

    execution_id: str
    pipeline: str
    status: str = IN_PROGRESS
    started: float = field(default_factory=time.time)
    seconds: float = 0.0
    message: str = ""
    stages: list[StageRecord] = field(default_factory=list)
    artifacts: dict[str, Any] = field(default_factory=dict)
    trigger: dict[str, str] = field(
        default_factory=lambda: {"triggerType": "StartPipelineExecution", "triggerDetail": ""}
    )
    revisions: list[dict[str, Any]] = field(default_factory=list)
    retried: list[ActionRecord] = field(default_factory=list)  # replaced by a stage retry
    stop_reason: str | None = None
    last_change: float = field(default_factory=time.time)

    def stage(self, name: str) -> StageRecord | None:
        """The record of the stage called `name`, once the execution entered it."""
        return next((stage for stage in self.stages if stage.name == name), None)

    def to_json(self) -> dict[str, Any]:
        """A plain dictionary for `json.dump`."""
        return asdict(self)


@dataclass(frozen=True)
class StopRequest:
    """StopPipelineExecution's ask: abandon the actions in progress, or let them finish."""

    abandon: bool
    reason: str = ""


class ExecutionControl(Protocol):
    """What CodePipeline decides around the actions of one execution."""

    def enter_stage(self, index: int) -> tuple[str, str] | None:
        """Wait until the execution may enter stage `index` (`len(stages)`: may finish);
        None, or the (status, summary) the execution ends with instead."""

    def leave_stage(self, index: int) -> None:
        """The execution is done with stage `index`."""

    def stop_request(self) -> StopRequest | None:
        """The stop asked for this execution, if any."""

    def pause(self, seconds: float) -> None:
        """Sleep between continuations; raises Abandoned when a stop abandons the action."""

    def await_approval(
        self, record: ActionRecord, configuration: dict[str, Any]
    ) -> tuple[bool, str, str]:
        """Wait for the answer to the approval `record.token` names: (approved, summary,
        who answered); raises Abandoned."""

    def changed(self, report: RunReport) -> None:
        """The report moved one whole step."""


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
    """Execute one pipeline execution: from its first stage, or again from a retried one."""

    def __init__(
        self,
        definition: PipelineDefinition,
        services: ActionServices,
        control: ExecutionControl,
        report: RunReport,
    ) -> None:
        self.definition = definition
        self.services = services
        self.control = control
        self.report = report
        self._artifacts: dict[str, dict[str, str]] = {}
        self._revision = ""  # the model code's, once built: what later artifacts carry
        # (stage, action) -> the namespace its output variables are found under
        self._namespaces = {
            (stage.name, action.name): action.namespace
            for stage in definition.stages
            for action in stage.actions
            if action.namespace
        }

    def run(self, first_stage: int = 0, retry_mode: str | None = None) -> RunReport:
        """Run the stages in order until one does not succeed, the execution is stopped or
        superseded, or all succeeded; a retry reruns `first_stage` by `retry_mode`."""
        report = self.report
        report.status, report.message = IN_PROGRESS, ""
        try:
            for index in range(first_stage, len(self.definition.stages) + 1):
                ending = self.control.enter_stage(index)
                if ending is not None:
                    report.status, report.message = ending
                    break
                if index == len(self.definition.stages):
                    report.status = SUCCEEDED
                    break
                try:
                    outcome = self._run_stage(index, retry_mode if index == first_stage else None)
                finally:
                    self.control.leave_stage(index)
                if outcome != SUCCEEDED:
                    report.status = outcome
                    break
        finally:
            stop = self.control.stop_request()
            if report.status == STOPPED and stop is not None:
                report.stop_reason = stop.reason
                report.message = report.message or stop.reason
            report.seconds = round(time.time() - report.started, 3)
            report.last_change = time.time()
            self._changed()
        return report

    def _changed(self) -> None:
        self.control.changed(self.report)

    def _run_stage(self, index: int, retry_mode: str | None) -> str:
        """Run one stage's actions in run order; the stage's status."""
        stage = self.definition.stages[index]
        record = self.report.stage(stage.name)
        if record is None:
            record = StageRecord(stage.name)
            self.report.stages.append(record)
        keep: set[str] = set()
        if retry_mode is not None:
            record.manual_retries += 1
            record.last_retry = time.time()
            if retry_mode == FAILED_ACTIONS:
                keep = {a.action for a in record.actions if a.status == SUCCEEDED}
            self.report.retried += [a for a in record.actions if a.action not in keep]
            record.actions = [a for a in record.actions if a.action in keep]
        record.status = IN_PROGRESS
        started = time.monotonic()
        order = [action.name for action in stage.actions]
        try:
            for action in stage.actions:
                if action.name in keep:
                    continue
                if self.control.stop_request() is not None:
                    record.status = STOPPED
                    return STOPPED
                self._run_action(record, action)
            record.status = SUCCEEDED
        except ActionFailed as failure:
            record.status = FAILED
            self.report.message = str(failure)
            return STOPPED if self.control.stop_request() is not None else FAILED
        except Abandoned:
            record.status = STOPPED
            return STOPPED
        finally:
            record.actions.sort(key=lambda a: order.index(a.action))
            record.seconds = round(time.monotonic() - started, 3)
            self._changed()
        return SUCCEEDED

    def _run_action(self, stage: StageRecord, action: Action) -> None:
        record = ActionRecord(stage.name, action.name)
        record.inputs = [self._detail(name) for name in action.input_artifacts]
        stage.actions.append(record)
        self._changed()
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
            record.outputs = [self._detail(name) for name in action.output_artifacts]
            record.status = SUCCEEDED
        except ActionFailed as failure:
            record.status, record.message = FAILED, str(failure)
            record.error_code = record.error_code or JOB_FAILED
            raise ActionFailed(f"{stage.name}/{action.name}: {failure}") from None
        except Abandoned:
            record.status = ABANDONED
            raise
        finally:
            record.seconds = round(time.monotonic() - started, 3)
            record.last_change = time.time()
            self._changed()

    def _abandon_if_asked(self) -> None:
        stop = self.control.stop_request()
        if stop is not None and stop.abandon:
            raise Abandoned

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

    def _detail(self, name: str) -> dict[str, Any]:
        """An artifact as ListActionExecutions shows it: its name and S3 location."""
        location = self._artifacts.get(name, {})
        return {
            "name": name,
            "s3location": {
                "bucket": location.get("bucketName", self.definition.artifact_bucket),
                "key": location.get("objectKey", self._key(name)),
            },
        }

    def _add_revision(self, record: ActionRecord, artifact: str, revision: str) -> None:
        record.revision = revision
        entry = {"name": artifact, "revisionId": revision, "created": time.time()}
        self.report.revisions = [r for r in self.report.revisions if r["name"] != artifact]
        self.report.revisions.append(entry)

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
        output = action.output_artifacts[0]
        if action.provider == "S3":
            bucket = action.configuration["S3Bucket"]
            key = action.configuration["S3ObjectKey"]
            try:
                response = self.services.s3.get_object(Bucket=bucket, Key=key)
            except self.services.s3.exceptions.NoSuchKey:
                raise ActionFailed(
                    f"the source object s3://{bucket}/{key} does not exist"
                ) from None
            self._store(output, response["Body"].read())
            # An S3 source's revision is the object's version (its ETag when unversioned).
            self._add_revision(
                record, output, response.get("VersionId") or response["ETag"].strip('"')
            )
            return f"s3://{bucket}/{key}"
        data, revision = self.services.source_code()
        self._store(output, data)
        self._add_revision(record, output, revision)
        return f"revision {revision}"

    def _build(self, action: Action, record: ActionRecord) -> str:
        # CODEBUILD_RESOLVED_SOURCE_VERSION: the revision of the source that made the input.
        built = action.input_artifacts[0]
        self._revision = next(
            (r["revisionId"] for r in self.report.revisions if r["name"] == built), ""
        )
        source = self._fetch(action.input_artifacts[0])
        try:
            output = self.services.build_image(source, action.configuration, self._revision)
        except RuntimeError as error:
            raise ActionFailed(str(error)) from None
        self._store(action.output_artifacts[0], output)
        detail = read_json_artifact(output) or {}
        return str(detail.get("ImageURI", ""))

    def _configuration(self, action: Action) -> dict[str, Any]:
        """The action's configuration with this execution's variables resolved."""
        namespaces = {
            self._namespaces[(stage.name, found.action)]: found.output_variables
            for stage in self.report.stages
            for found in stage.actions
            if found.status == SUCCEEDED and (stage.name, found.action) in self._namespaces
        }
        try:
            return resolve_configuration(action.configuration, self.report.execution_id, namespaces)
        except UnresolvedVariable as unresolved:
            raise ActionFailed(str(unresolved)) from None

    def _approval(self, action: Action, record: ActionRecord) -> str:
        configuration = self._configuration(action)
        # The token is also the action's externalExecutionId, as in CodePipeline.
        record.token = record.external_execution_id = str(uuid.uuid4())
        self._changed()
        try:
            approved, summary, answered_by = self.control.await_approval(record, configuration)
        finally:
            record.token = None
        record.updated_by = answered_by
        if not approved:
            raise ActionFailed(f"Rejected: {summary}" if summary else "Rejected")
        return summary

    def _invoke(self, action: Action, record: ActionRecord) -> str:
        function = action.configuration["FunctionName"]
        configuration = self._configuration(action)
        continuation: str | None = None
        while True:
            data: dict[str, Any] = {
                "actionConfiguration": {"configuration": configuration},
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
            self._abandon_if_asked()
            error = getattr(outcome, "error", None)
            result = self.services.jobs.wait_result(
                job_id, 0.0 if error else self.services.lambda_result_timeout
            )
            if result is None:
                reason = f"the function failed: {error}" if error else "no job result reported"
                raise ActionFailed(f"{reason} (function {function})")
            record.external_execution_id = result.external_execution_id
            if not result.succeeded:
                raise ActionFailed(result.message or "the function reported failure")
            if not result.continuation_token:
                break
            continuation = result.continuation_token
            self.control.pause(self.services.poll_seconds)
        record.output_variables = dict(result.output_variables)
        for name in action.output_artifacts:
            try:
                self._register(name, self._fetch_written(name))
            except self.services.s3.exceptions.NoSuchKey:
                raise ActionFailed(f"the function did not write output artifact {name}") from None
        return result.message or ""

    def _fetch_written(self, name: str) -> bytes:
        bucket = self.definition.artifact_bucket
        return self.services.s3.get_object(Bucket=bucket, Key=self._key(name))["Body"].read()
