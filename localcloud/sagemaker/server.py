"""The wire protocols, in one place: routing, request decoding, response and error encoding.

One threaded HTTP/1.1 server answers both services botocore may point at it:
- SageMaker (JSON 1.1): `POST /` with `X-Amz-Target: SageMaker.<Action>`;
- SageMaker Runtime (REST JSON): `POST /endpoints/<name>/invocations`.
So `AWS_ENDPOINT_URL_SAGEMAKER` and `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME` can be the same URL.
Invocations run on their own threads, beside control-plane calls.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socketserver
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from localcloud.background import ServerThread, TracksConnections
from localcloud.sagemaker.backend import LocalSageMaker
from localcloud.sagemaker.common import Settings
from localcloud.sagemaker.exceptions import (
    InternalFailure,
    SageMakerError,
    SerializationException,
    UnknownOperationException,
)
from localcloud.sagemaker.http11 import ProtocolError, Request, read_request, response_bytes
from localcloud.sagemaker.responses import SageMakerResponses, invoke_endpoint

LOG = logging.getLogger("localcloud.sagemaker")
TARGET_PREFIX = "SageMaker."
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
INVOCATIONS_PATH = re.compile(r"^/endpoints/([^/?]+)/invocations(?:\?.*)?$")


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


# "CreateTrainingJob" -> SageMakerResponses.create_training_job, for every public method.
ACTIONS: dict[str, Callable[[SageMakerResponses, dict[str, Any]], dict[str, Any]]] = {
    _camel(name): method
    for name, method in vars(SageMakerResponses).items()
    if not name.startswith("_") and callable(method)
}


def route(backend: LocalSageMaker, responses: SageMakerResponses, request: Request) -> bytes:
    """The whole response to one request: dispatch, and every error encoded as its protocol does."""
    request_id = str(uuid.uuid4())
    runtime = request.target.startswith("/endpoints/")
    try:
        if request.method != "POST":
            raise UnknownOperationException(f"No operation at {request.method} {request.target}")
        if runtime:
            headers, body = _invoke(backend, request)
        else:
            headers, body = _control(responses, request)
        status = 200
    except SageMakerError as error:
        status, headers, body = _error(error, runtime)
    except Exception as error:  # a bug here must still answer, not hang up
        LOG.exception("local SageMaker failed on %s %s", request.method, request.target)
        failure = InternalFailure(f"{type(error).__name__}: {error}")
        status, headers, body = _error(failure, runtime)
    headers["x-amzn-RequestId"] = request_id
    return response_bytes(status, headers, body, keep_alive=request.keep_alive)


def _control(responses: SageMakerResponses, request: Request) -> tuple[dict[str, str], bytes]:
    target = request.headers.get("x-amz-target", "")
    action = (
        ACTIONS.get(target.removeprefix(TARGET_PREFIX))
        if target.startswith(TARGET_PREFIX)
        else None
    )
    if action is None:
        raise UnknownOperationException(f"Unknown operation {target or request.target!r}")
    try:
        params = json.loads(request.body or b"{}")
    except ValueError:
        raise SerializationException("The request body is not valid JSON") from None
    if not isinstance(params, dict):
        raise SerializationException("The request body must be a JSON object")
    result = action(responses, params)
    return {"Content-Type": JSON_CONTENT_TYPE}, json.dumps(result).encode()


def _invoke(backend: LocalSageMaker, request: Request) -> tuple[dict[str, str], bytes]:
    match = INVOCATIONS_PATH.match(request.target)
    if match is None:
        raise UnknownOperationException(f"No operation at POST {request.target}")
    return invoke_endpoint(backend, unquote(match.group(1)), request.body, request.headers)


def _error(error: SageMakerError, runtime: bool) -> tuple[int, dict[str, str], bytes]:
    if runtime:  # REST JSON: the code in a header, modeled members in the body
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": f"{error.code}:"}
        document = {"Message": error.message, **error.fields()}
    else:  # JSON 1.1: the code in __type
        headers = {"Content-Type": JSON_CONTENT_TYPE}
        document = {"__type": error.code, "message": error.message, **error.fields()}
    return error.status, headers, json.dumps(document).encode()


class _Handler(socketserver.StreamRequestHandler):
    disable_nagle_algorithm = True
    server: _Server

    def handle(self) -> None:
        """Serve requests on this connection until the client closes it (keep-alive)."""
        try:
            while True:
                request = read_request(self.rfile, self.wfile)
                if request is None:
                    return
                self.wfile.write(route(self.server.backend, self.server.responses, request))
                if not request.keep_alive:
                    return
        except ProtocolError as error:
            body = json.dumps({"__type": "SerializationException", "message": str(error)})
            with contextlib.suppress(OSError):
                self.wfile.write(response_bytes(400, {}, body.encode(), keep_alive=False))
        except OSError:
            return  # the client went away


class _Server(TracksConnections, socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], backend: LocalSageMaker) -> None:
        super().__init__(address, _Handler)
        self.backend = backend
        self.responses = SageMakerResponses(backend)


class RunningServer:
    """A local SageMaker listening on `url`; `stop()` also stops every process it started."""

    def __init__(self, server: _Server, backend: LocalSageMaker) -> None:
        self.backend = backend
        host, port = server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._serving = ServerThread(server, name="sagemaker-http")

    def stop(self) -> None:
        """Stop listening, hang up clients, stop all training and serve processes; idempotent."""
        self._serving.stop()
        self.backend.shutdown()


def start_server(
    state_dir: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    python: str = sys.executable,
    settings: Settings | None = None,
) -> RunningServer:
    """Start a local SageMaker on host:port (0: a free port) in background threads."""
    backend = LocalSageMaker(state_dir, python=python, settings=settings)
    return RunningServer(_Server((host, port), backend), backend)
