"""Lambda's Invoke on the wire (REST JSON), served from the local Lambda runtime.

`POST /2015-03-31/functions/{FunctionName}/invocations`, signed for `lambda` with the cloud's
credentials and checked against botocore's model before any work. Every other Lambda operation
is moto's, where CloudFormation created the functions; moto cannot run them without Docker.
"""

from __future__ import annotations

import logging
import re
import uuid
from urllib.parse import unquote

from localcloud.background import HttpRequest, HttpResponse
from localcloud.core.exceptions import AwsError, UnknownOperationException, ValidationException
from localcloud.core.json_protocol import rest_json_error
from localcloud.core.rest_json import rest_params
from localcloud.core.signing import Credentials, SignatureVerifier
from localcloud.core.validation import InvalidRequest, MalformedRequest, operation_model, validate
from localcloud.lambda_runtime.exceptions import ServiceException
from localcloud.lambda_runtime.responses import LambdaResponses
from localcloud.lambda_runtime.runtime import LambdaRuntime

LOG = logging.getLogger("localcloud.lambda")
SERVICE = "lambda"
SIGNING_NAME = "lambda"
# The edge sends requests signed for `lambda` whose path matches this here; the rest to moto.
INVOKE_PATH = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")


class LambdaFrontEnd:
    """Invoke's routing, request checks and error encoding over LambdaResponses."""

    def __init__(self, runtime: LambdaRuntime, credentials: Credentials) -> None:
        self.responses = LambdaResponses(runtime)
        self.verifier = SignatureVerifier(credentials, {SIGNING_NAME})
        operation_model(SERVICE, "Invoke")  # load the model now, not on a request

    def handle(self, request: HttpRequest) -> HttpResponse:
        """The whole answer to one request, errors included."""
        try:
            response = self._invoke(request)
        except AwsError as error:
            response = rest_json_error(error)
        except Exception as error:  # a bug, or the runtime shutting down, must still answer
            LOG.exception("local Lambda failed on %s", request.raw_path)
            response = rest_json_error(ServiceException(f"{type(error).__name__}: {error}"))
        if not any(name == "x-amzn-RequestId" for name, _ in response.headers):
            response.headers.append(("x-amzn-RequestId", str(uuid.uuid4())))
        return response

    def _invoke(self, request: HttpRequest) -> HttpResponse:
        self.verifier.verify(request)
        match = INVOKE_PATH.fullmatch(request.raw_path)
        if request.method != "POST" or match is None:
            raise UnknownOperationException(
                f"The local Lambda serves only Invoke, not {request.method} {request.raw_path}"
            )
        params = rest_params(SERVICE, "Invoke", request, {"FunctionName": unquote(match.group(1))})
        try:
            validate(SERVICE, "Invoke", params)
        except (InvalidRequest, MalformedRequest) as invalid:
            raise ValidationException(str(invalid)) from None
        return self.responses.invoke(params)
