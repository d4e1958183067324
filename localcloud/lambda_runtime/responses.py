"""Lambda's Invoke action over the local runtime: invocation types, payload limits, log tail."""

from __future__ import annotations

import base64
import json
from typing import Any

from localcloud.background import HttpResponse
from localcloud.lambda_runtime.exceptions import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    RequestEntityTooLargeException,
    ResourceNotFoundException,
)
from localcloud.lambda_runtime.runtime import LambdaRuntime

LATEST = "$LATEST"  # the only version of a function here: the stack's code, unpublished
MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024  # Invoke's limits (Lambda quotas, botocore's docs)
MAX_ASYNC_PAYLOAD_BYTES = 1024 * 1024
# Invoke members this runtime serves; the others (client context, tenants, durable executions)
# are refused rather than ignored.
SUPPORTED_MEMBERS = frozenset({"FunctionName", "Qualifier", "InvocationType", "LogType", "Payload"})


def _no_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_payload(body: bytes) -> Any:
    """The event a payload holds (none: `{}`), or Lambda's error for one that is not JSON."""
    if not body.strip():
        return {}
    try:
        return json.loads(body, parse_constant=_no_json_constant)
    except ValueError as error:
        raise InvalidRequestContentException(
            f"Could not parse request body into json: Could not parse payload into json: {error}"
        ) from None


class LambdaResponses:
    """One method per Lambda action served locally (Invoke); the rest is moto's."""

    def __init__(self, runtime: LambdaRuntime) -> None:
        self.runtime = runtime

    def _function_name(self, given: str, qualifier: str | None) -> str:
        """The function's name from a name, a partial ARN or an ARN, each with its qualifier."""
        parts = given.split(":")
        if parts[0] == "arn" and len(parts) in (7, 8) and parts[5] == "function":
            region, account, rest = parts[3], parts[4], parts[6:]
        elif len(parts) in (3, 4) and parts[1] == "function":
            region, account, rest = self.runtime.region, parts[0], parts[2:]
        elif len(parts) in (1, 2):
            region, account, rest = self.runtime.region, self.runtime.account_id, parts
        else:
            raise ResourceNotFoundException(f"Function not found: {given}")
        name = rest[0]
        derived = rest[1] if len(rest) == 2 else None
        if derived is not None and qualifier is not None and derived != qualifier:
            raise InvalidParameterValueException(
                "The derived qualifier from the function name does not match the specified "
                "qualifier."
            )
        version = derived or qualifier
        arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
        if (region, account) != (self.runtime.region, self.runtime.account_id):
            raise ResourceNotFoundException(f"Function not found: {arn}")
        if version not in (None, LATEST):
            raise ResourceNotFoundException(f"Function not found: {arn}:{version}")
        return name

    def invoke(self, params: dict[str, Any]) -> HttpResponse:
        """Invoke: RequestResponse (200), Event (202, queued) or DryRun (204)."""
        unsupported = sorted(set(params) - SUPPORTED_MEMBERS)
        if unsupported:
            raise InvalidParameterValueException(
                f"The local Lambda does not support {', '.join(unsupported)} on Invoke"
            )
        name = self._function_name(params["FunctionName"], params.get("Qualifier"))
        invocation_type = params.get("InvocationType", "RequestResponse")
        body: bytes = params.get("Payload", b"")
        if invocation_type == "Event" and len(body) > MAX_ASYNC_PAYLOAD_BYTES:
            raise RequestEntityTooLargeException(
                f"{len(body)} byte payload is too large for the Event invocation type "
                f"(limit {MAX_ASYNC_PAYLOAD_BYTES} bytes)"
            )
        if len(body) > MAX_SYNC_PAYLOAD_BYTES:
            raise RequestEntityTooLargeException(
                f"Request must be smaller than {MAX_SYNC_PAYLOAD_BYTES} bytes for the "
                "InvokeFunction operation"
            )
        event = parse_payload(body)
        if invocation_type == "DryRun":
            self.runtime.check(name)
            return HttpResponse(204)
        if invocation_type == "Event":
            request_id = self.runtime.invoke_async(name, event)
            return HttpResponse(202, [("x-amzn-RequestId", request_id)])
        tail = params.get("LogType") == "Tail"
        result = self.runtime.invoke(name, event, tail=tail)
        headers = [
            ("Content-Type", "application/json"),
            ("X-Amz-Executed-Version", LATEST),
            ("x-amzn-RequestId", result.request_id),
        ]
        if result.error is not None:
            headers.append(("X-Amz-Function-Error", "Unhandled"))
            answer = result.error.to_payload()
        else:
            answer = result.payload
        if tail:
            headers.append(("X-Amz-Log-Result", base64.b64encode(result.log_tail or b"").decode()))
        return HttpResponse(200, headers, json.dumps(answer).encode())
