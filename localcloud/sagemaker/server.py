"""The wire protocols of the local SageMaker: routing, request checks, response and error encoding.

One server answers both services botocore may point at it:
- SageMaker (JSON 1.1): `POST /` with `X-Amz-Target: SageMaker.<Action>`;
- SageMaker Runtime (REST JSON): `POST /endpoints/<name>/invocations`, and
  `.../invocations-response-stream` (the answer as an event stream).
So `AWS_ENDPOINT_URL_SAGEMAKER` and `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME` can be the same URL.
Every request must be signed with the cloud's credentials and pass botocore's model of its
operation before any work; a member the local SageMaker does not implement is refused by name.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3

from localcloud.background import HttpRequest, HttpResponse, HttpServer
from localcloud.core.exceptions import AwsError, InternalFailure, UnknownOperationException
from localcloud.core.json_protocol import Action, JsonProtocol, actions_of, rest_json_error
from localcloud.core.signing import Credentials, SignatureVerifier
from localcloud.core.validation import (
    InvalidRequest,
    MalformedRequest,
    operation_model,
    validate,
)
from localcloud.sagemaker.backend import LocalSageMaker
from localcloud.sagemaker.common import Settings
from localcloud.sagemaker.exceptions import ValidationError
from localcloud.sagemaker.members import MEMBERS, RUNTIME_MEMBERS, check_members
from localcloud.sagemaker.responses import (
    SageMakerResponses,
    invoke_endpoint,
    invoke_endpoint_with_response_stream,
)

LOG = logging.getLogger("localcloud.sagemaker")
SIGNING_NAME = "sagemaker"  # both services sign as "sagemaker"
RUNTIME = "sagemaker-runtime"
RUNTIME_PATH = re.compile(r"/endpoints/([^/]+)/(invocations|invocations-response-stream)")
RUNTIME_OPERATIONS = {
    "invocations": "InvokeEndpoint",
    "invocations-response-stream": "InvokeEndpointWithResponseStream",
}
MAX_BODY_BYTES = 8 * 1024 * 1024  # above InvokeEndpoint's 6 MB, so the model's limit words it


def _runtime_params(request: HttpRequest, operation: str, name: str) -> dict[str, Any]:
    """A runtime operation's input members, read from where its REST binding puts them."""
    params: dict[str, Any] = {"EndpointName": name, "Body": request.body}
    shape = operation_model(RUNTIME, operation).input_shape
    for member, member_shape in shape.members.items():
        if member_shape.serialization.get("location") == "header":
            value = request.header(member_shape.serialization["name"])
            if value is not None:
                params[member] = value
    return params


def _honouring_members(operation: str, action: Action) -> Action:
    """The action, refusing first any request member it does not implement (`members`)."""
    if operation not in MEMBERS:
        raise LookupError(f"{operation} has no entry in localcloud.sagemaker.members.MEMBERS")

    def run(params: dict[str, Any]) -> dict[str, Any]:
        check_members(operation, params)
        return action(params)

    return run


class SageMakerFrontEnd:
    """Routes each request to the control plane or the runtime, with its protocol's encoding."""

    def __init__(self, backend: LocalSageMaker, credentials: Credentials) -> None:
        self.backend = backend
        self.verifier = SignatureVerifier(credentials, {SIGNING_NAME})
        actions = actions_of(SageMakerResponses(backend))
        self.control = JsonProtocol(
            "sagemaker",
            "SageMaker",
            {name: _honouring_members(name, action) for name, action in actions.items()},
            self.verifier,
        )
        for operation in RUNTIME_OPERATIONS.values():  # load the models now, not on a request
            operation_model(RUNTIME, operation)

    def handle(self, request: HttpRequest) -> HttpResponse:
        """The whole answer to one request."""
        if not request.raw_path.startswith("/endpoints/"):
            return self.control.handle(request)
        received = time.perf_counter()
        try:
            headers, body = self._invoke(request, received)
            response = HttpResponse(200, list(headers.items()), body)
        except AwsError as error:
            response = rest_json_error(error)
        except Exception as error:
            LOG.exception("local SageMaker runtime failed on %s", request.raw_path)
            response = rest_json_error(InternalFailure(f"{type(error).__name__}: {error}"))
        response.headers.append(("x-amzn-RequestId", str(uuid.uuid4())))
        return response

    def _invoke(self, request: HttpRequest, received: float) -> tuple[dict[str, str], bytes]:
        self.verifier.verify(request)
        match = RUNTIME_PATH.fullmatch(request.raw_path)
        if request.method != "POST" or match is None:
            raise UnknownOperationException(f"No operation at {request.method} {request.raw_path}")
        operation = RUNTIME_OPERATIONS[match.group(2)]
        params = _runtime_params(request, operation, unquote(match.group(1)))
        try:
            validate(RUNTIME, operation, params)
        except (InvalidRequest, MalformedRequest) as invalid:
            raise ValidationError(str(invalid)) from None
        check_members(operation, params, RUNTIME_MEMBERS, ValidationError)
        if operation == "InvokeEndpoint":
            return invoke_endpoint(self.backend, params, received)
        return invoke_endpoint_with_response_stream(self.backend, params, received)


class RunningServer:
    """A local SageMaker listening on `url`; `stop()` also stops every process it started."""

    def __init__(
        self, backend: LocalSageMaker, front_end: SageMakerFrontEnd, server: HttpServer
    ) -> None:
        self.backend = backend
        self.handle = front_end.handle  # what the edge mounts for "sagemaker"
        self._server = server
        self.url = server.url

    def stop(self) -> None:
        """Stop listening, stop all training and serve processes; idempotent."""
        self._server.stop()
        self.backend.shutdown()


def start_server(
    state_dir: Path,
    credentials: Credentials,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    python: str = sys.executable,
    settings: Settings | None = None,
    session: boto3.session.Session | None = None,
) -> RunningServer:
    """Start a local SageMaker on host:port (0: a free port) in background threads.

    `session` reaches S3, CloudWatch Logs and CloudWatch (default: the ambient configuration).
    """
    backend = LocalSageMaker(state_dir, python=python, settings=settings, session=session)
    front_end = SageMakerFrontEnd(backend, credentials)
    server = HttpServer(
        front_end.handle,
        host=host,
        port=port,
        what="the local SageMaker",
        max_body=MAX_BODY_BYTES,
        too_large=rest_json_error(
            ValidationError(f"Request body larger than {MAX_BODY_BYTES} bytes")
        ),
        threads=64,
    )
    server.start()
    return RunningServer(backend, front_end, server)
