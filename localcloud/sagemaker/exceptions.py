"""SageMaker's error codes, one class each, with the real service's HTTP status and wording."""

from __future__ import annotations

from typing import Any

from localcloud.core.exceptions import AwsError, InternalFailure, ValidationException

__all__ = [
    "ConflictException",
    "InternalFailure",
    "ModelError",
    "ResourceInUse",
    "ResourceNotFound",
    "ServiceUnavailable",
    "ValidationError",
    "ValidationException",
]


# --- control plane (SageMaker, JSON 1.1) ---------------------------------------------------
class ResourceNotFound(AwsError):
    """An unknown training job."""

    code = "ResourceNotFound"


class ResourceInUse(AwsError):
    """A training job name that is already taken."""

    code = "ResourceInUse"


class ConflictException(AwsError):
    """A change the resource's current state does not allow (a group that still has versions)."""

    code = "ConflictException"


# --- runtime (SageMaker Runtime, REST JSON) ------------------------------------------------
class ValidationError(AwsError):
    """A bad InvokeEndpoint request, or an endpoint that does not exist or is not in service."""

    code = "ValidationError"


class ServiceUnavailable(AwsError):
    """No instance can take the request right now (one is being replaced); botocore retries."""

    code = "ServiceUnavailable"
    status = 503


class ModelError(AwsError):
    """The container answered 4xx/5xx, or did not answer at all."""

    code = "ModelError"
    status = 424

    def __init__(
        self,
        message: str,
        *,
        original_status: int | None,
        original_message: str,
        log_stream_arn: str,
    ) -> None:
        super().__init__(message)
        self.original_status = original_status
        self.original_message = original_message
        self.log_stream_arn = log_stream_arn

    def fields(self) -> dict[str, Any]:
        """OriginalStatusCode, OriginalMessage and LogStreamArn: the ModelError shape's members."""
        fields: dict[str, Any] = {
            "OriginalMessage": self.original_message,
            "LogStreamArn": self.log_stream_arn,
        }
        if self.original_status is not None:
            fields["OriginalStatusCode"] = self.original_status
        return fields
