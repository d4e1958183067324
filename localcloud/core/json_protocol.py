"""AWS's JSON 1.1 protocol in one place: `POST /` naming its action in `X-Amz-Target`.

SageMaker and the CodePipeline job API both speak it; every local service's errors are encoded
here (`error_response`, and `rest_json_error` for SageMaker Runtime's REST JSON). A request is
answered in this order, each step before any work: the signature, the action, the body's JSON,
botocore's model of the operation; then the action's method runs and every error is encoded the
same way (`{"__type": code, "message": ...}`).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from localcloud.background import HttpRequest, HttpResponse
from localcloud.core.exceptions import (
    AwsError,
    InternalFailure,
    SerializationException,
    UnknownOperationException,
    ValidationException,
)
from localcloud.core.signing import SignatureVerifier
from localcloud.core.validation import InvalidRequest, MalformedRequest, service_model, validate

LOG = logging.getLogger("localcloud.json")
CONTENT_TYPE = "application/x-amz-json-1.1"
Action = Callable[[dict[str, Any]], dict[str, Any]]


def actions_of(responses: object) -> dict[str, Action]:
    """Each public method of a responses object by its action: `create_job` → "CreateJob"."""
    return {
        "".join(part.capitalize() for part in name.split("_")): getattr(responses, name)
        for name in dir(responses)
        if not name.startswith("_") and callable(getattr(responses, name))
    }


def json_response(
    status: int, document: dict[str, Any], content_type: str = CONTENT_TYPE
) -> HttpResponse:
    """A JSON body with a fresh request id, as AWS answers."""
    return HttpResponse(
        status,
        [("Content-Type", content_type), ("x-amzn-RequestId", str(uuid.uuid4()))],
        json.dumps(document).encode(),
    )


def error_response(error: AwsError) -> HttpResponse:
    """An error as JSON 1.1 encodes it: the code in `__type`."""
    return json_response(
        error.status, {"__type": error.code, "message": error.message, **error.fields()}
    )


def rest_json_error(error: AwsError) -> HttpResponse:
    """An error as REST JSON (SageMaker Runtime) encodes it: the code in a header.

    No request id here: the caller adds one per answer, so a prebuilt answer can be reused.
    """
    return HttpResponse(
        error.status,
        [("Content-Type", "application/json"), ("x-amzn-ErrorType", f"{error.code}:")],
        json.dumps({"Message": error.message, **error.fields()}).encode(),
    )


class JsonProtocol:
    """One service's JSON 1.1 front end over its actions."""

    def __init__(
        self,
        service: str,
        target_prefix: str,
        actions: Mapping[str, Action],
        verifier: SignatureVerifier,
    ) -> None:
        self.service = service
        self.target_prefix = target_prefix
        self.actions = dict(actions)
        self.verifier = verifier
        service_model(service)  # load botocore's model now, not on the first request

    def handle(self, request: HttpRequest) -> HttpResponse:
        """The whole answer to one request, errors included."""
        try:
            return json_response(200, self._dispatch(request))
        except AwsError as error:
            return error_response(error)
        except Exception as error:  # a bug must still answer in the protocol
            LOG.exception("%s failed on %s", self.service, request.header("x-amz-target"))
            return error_response(InternalFailure(f"{type(error).__name__}: {error}"))

    def _dispatch(self, request: HttpRequest) -> dict[str, Any]:
        self.verifier.verify(request)
        target = request.header("x-amz-target") or ""
        prefix, _, name = target.partition(".")
        action = self.actions.get(name) if prefix == self.target_prefix else None
        if request.method != "POST" or action is None:
            raise UnknownOperationException(
                f"Unknown operation {target or request.method + ' ' + request.raw_path!r}"
            )
        try:
            params = json.loads(request.body or b"{}")
        except ValueError:
            raise SerializationException("The request body is not valid JSON") from None
        if not isinstance(params, dict):
            raise SerializationException("The request body must be a JSON object")
        try:
            validate(self.service, name, params)
        except InvalidRequest as invalid:
            raise ValidationException(str(invalid)) from None
        except MalformedRequest as malformed:
            raise SerializationException(str(malformed)) from None
        return action(params)
