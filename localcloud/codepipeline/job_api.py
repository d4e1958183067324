"""The CodePipeline job API the Lambda actions call: PutJobSuccessResult, PutJobFailureResult.

A small server speaking CodePipeline's JSON 1.1 protocol (`X-Amz-Target:
CodePipeline_20150709.<Action>`), which botocore reaches through `AWS_ENDPOINT_URL_CODEPIPELINE`.
Requests are checked against botocore's own model of the service (required members, lengths,
patterns, enums), so a call that passes here passes the shape checks of the real service.
The runner opens a job per Lambda invocation and waits for the one result the job accepts.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import botocore.session
from botocore.model import OperationModel, Shape

from localcloud.background import ServerThread, TracksConnections, bind

TARGET_PREFIX = "CodePipeline_20150709."
CONTENT_TYPE = "application/x-amz-json-1.1"
DEFAULT_ACCOUNT_ID = "123456789012"
IN_PROGRESS, SUCCEEDED, FAILED = "InProgress", "Succeeded", "Failed"


# --- errors (one class per CodePipeline error code, with the service's documented wording) ---
class CodePipelineError(Exception):
    """An error botocore raises as ClientError with this code and message."""

    code: ClassVar[str] = "InternalFailure"
    status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class JobNotFoundException(CodePipelineError):
    """An unknown job id."""

    code = "JobNotFoundException"

    def __init__(self) -> None:
        super().__init__("The job was specified in an invalid format or cannot be found.")


class InvalidJobStateException(CodePipelineError):
    """A result for a job that already has one."""

    code = "InvalidJobStateException"

    def __init__(self) -> None:
        super().__init__("The job state was specified in an invalid format.")


class ValidationException(CodePipelineError):
    """A request member that breaks the model's constraints."""

    code = "ValidationException"


class SerializationException(CodePipelineError):
    """A body that is not JSON, or a member of the wrong JSON type."""

    code = "SerializationException"


class UnknownOperationException(CodePipelineError):
    """An X-Amz-Target this job API does not serve."""

    code = "UnknownOperationException"

    def __init__(self, target: str) -> None:
        super().__init__(f"Unknown operation {target!r}")


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


# --- request checks against botocore's model of CodePipeline --------------------------------
@cache
def _operation(name: str) -> OperationModel:
    model = botocore.session.get_session().get_service_model("codepipeline")
    return model.operation_model(name)


def _quote(value: Any) -> str:
    return "null" if value is None else f"'{value}'"


def _check(shape: Shape, value: Any, where: str, problems: list[str]) -> None:
    """Append AWS-worded constraint violations of `value`; SerializationException on bad types."""
    kind = shape.type_name
    expected = {
        "structure": dict,
        "map": dict,
        "list": list,
        "string": str,
        "boolean": bool,
        "integer": int,
        "long": int,
        "timestamp": int | float | str,
    }.get(kind, object)
    if not isinstance(value, expected) or (kind in {"integer", "long"} and isinstance(value, bool)):
        raise SerializationException(f"Unexpected {type(value).__name__} value at '{where}'")
    meta = shape.metadata
    if kind == "structure":
        for name in shape.required_members:
            if value.get(name) is None:
                problems.append(
                    f"Value null at '{where}{name}' failed to satisfy constraint: "
                    "Member must not be null"
                )
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _check(member, value[name], f"{where}{name}.", problems)
    elif kind == "map":
        for key, item in value.items():
            key_problems: list[str] = []
            _check(shape.key, key, where, key_problems)
            if key_problems:
                constraint = key_problems[0].split("failed to satisfy constraint: ", 1)[1]
                problems.append(
                    f"Value '{json.dumps(value)}' at '{where.rstrip('.')}' failed to satisfy "
                    f"constraint: Map keys must satisfy constraint: [{constraint}]"
                )
            _check(shape.value, item, f"{where}{key}.", problems)
    elif kind == "list":
        for index, item in enumerate(value):
            _check(shape.member, item, f"{where}{index + 1}.", problems)
    else:
        _check_scalar(kind, meta, value, where.rstrip("."), problems)


def _check_scalar(
    kind: str, meta: dict[str, Any], value: Any, where: str, problems: list[str]
) -> None:
    def fail(constraint: str) -> None:
        problems.append(
            f"Value {_quote(value)} at '{where}' failed to satisfy constraint: {constraint}"
        )

    if kind == "string":
        if "min" in meta and len(value) < meta["min"]:
            fail(f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            fail(f"Member must have length less than or equal to {meta['max']}")
        if "pattern" in meta and not re.fullmatch(meta["pattern"], value, re.DOTALL):
            fail(f"Member must satisfy regular expression pattern: {meta['pattern']}")
        if "enum" in meta and value not in meta["enum"]:
            fail(f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]")
    elif kind in {"integer", "long"}:
        if "min" in meta and value < meta["min"]:
            fail(f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            fail(f"Member must have value less than or equal to {meta['max']}")


def validate(operation: str, body: dict[str, Any]) -> None:
    """Raise ValidationException listing every constraint `body` breaks, as AWS words it."""
    problems: list[str] = []
    _check(_operation(operation).input_shape, body, "", problems)
    if problems:
        count = len(problems)
        raise ValidationException(
            f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems)
        )


# --- responses: one method per action -------------------------------------------------------
class JobApiResponses:
    """CodePipeline actions a job worker calls, on top of a JobStore."""

    def __init__(self, store: JobStore) -> None:
        self.store = store

    def dispatch(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """Run one action on a parsed request body; the response body."""
        method = {
            "PutJobSuccessResult": self.put_job_success_result,
            "PutJobFailureResult": self.put_job_failure_result,
            "GetJobDetails": self.get_job_details,
        }.get(action)
        if method is None:
            raise UnknownOperationException(TARGET_PREFIX + action)
        validate(action, body)
        return method(body)

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


# --- wire protocol --------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # botocore keeps connections alive
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the runner reports what each job did."""

    def do_POST(self) -> None:
        """Every JSON 1.1 call is a POST to / naming its action in X-Amz-Target."""
        request_id = str(uuid.uuid4())
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        try:
            if not target.startswith(TARGET_PREFIX):
                raise UnknownOperationException(target)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                raise SerializationException("The request body is not valid JSON") from None
            if not isinstance(body, dict):
                raise SerializationException("The request body must be a JSON object")
            status, answer = 200, self.server.responses.dispatch(target[len(TARGET_PREFIX) :], body)
        except CodePipelineError as error:
            status, answer = error.status, {"__type": error.code, "message": error.message}
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", request_id)
        self.end_headers()
        self.wfile.write(payload)


class _Server(TracksConnections, ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], responses: JobApiResponses) -> None:
        self.responses = responses
        super().__init__(address, _Handler)


class JobApi(JobStore):
    """The job store served over HTTP on loopback.

    Usage::

        jobs = JobApi(port=0)
        jobs.start()        # Lambdas get AWS_ENDPOINT_URL_CODEPIPELINE=jobs.url
        job_id = jobs.open_job(data)            # data: the event's CodePipeline.job.data
        ... invoke the Lambda with {"CodePipeline.job": {"id": job_id, "data": data, ...}} ...
        result = jobs.wait_result(job_id, timeout=30)   # JobResult, or None
        jobs.stop()
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, account_id: str = DEFAULT_ACCOUNT_ID
    ) -> None:
        super().__init__(account_id)
        self.host = host
        self.port = port
        self._serving: ServerThread | None = None

    @property
    def url(self) -> str:
        """The endpoint URL botocore is given."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Bind and serve in a background thread; a taken port raises PortInUse naming it."""
        _operation("PutJobSuccessResult")  # load botocore's model now, not on the first call
        server = bind(
            lambda: _Server((self.host, self.port), JobApiResponses(self)),
            self.host,
            self.port,
            "the CodePipeline job API",
        )
        self._serving = ServerThread(server, name=f"codepipeline-jobs-{server.server_address[1]}")
        self.port = self._serving.port

    def stop(self) -> None:
        """Stop serving and free the port; safe to call twice."""
        serving, self._serving = self._serving, None
        if serving is not None:
            serving.stop()
