"""Lambda's error codes, one class each, with Lambda's status codes and wording."""

from __future__ import annotations

from typing import Any

from localcloud.core.exceptions import AwsError


class LambdaServiceError(AwsError):
    """An error of Lambda's API: its body also says whose fault it is (`Type`), as Lambda's does."""

    fault = "User"

    def fields(self) -> dict[str, Any]:
        """Lambda's error bodies carry `Type` next to the message."""
        return {"Type": self.fault}


class ResourceNotFoundException(LambdaServiceError):
    """Invoke of a function (or qualifier) that does not exist."""

    code = "ResourceNotFoundException"
    status = 404


class InvalidParameterValueException(LambdaServiceError):
    """A parameter Lambda refuses: a function configuration, or a qualifier that does not fit."""

    code = "InvalidParameterValueException"


class InvalidRequestContentException(LambdaServiceError):
    """A payload that is not JSON."""

    code = "InvalidRequestContentException"


class RequestEntityTooLargeException(LambdaServiceError):
    """A payload over Invoke's limit (botocore models it as RequestTooLargeException; Lambda
    answers with this code)."""

    code = "RequestEntityTooLargeException"
    status = 413


class ServiceException(LambdaServiceError):
    """Lambda itself could not run the invocation (here: the runtime is shutting down)."""

    code = "ServiceException"
    status = 500
    fault = "Service"


class CallerTimeout(TimeoutError):
    """The caller's own wait limit ran out before the function answered (API Gateway's 29 s)."""
