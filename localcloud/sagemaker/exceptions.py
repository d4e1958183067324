"""SageMaker's error codes, one class each, with the real service's HTTP status and wording."""

from __future__ import annotations

from typing import Any, ClassVar


class SageMakerError(Exception):
    """An error the client sees as a botocore ClientError with this code and message."""

    code: ClassVar[str] = "InternalFailure"
    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def fields(self) -> dict[str, Any]:
        """Extra members of the modeled error shape, serialized next to the message."""
        return {}


# --- control plane (SageMaker, JSON 1.1) ---------------------------------------------------
class ValidationException(SageMakerError):
    """Bad request, and also SageMaker's answer for most unknown models, configs and endpoints."""

    code = "ValidationException"
    status = 400


class ResourceNotFound(SageMakerError):
    """An unknown training job."""

    code = "ResourceNotFound"
    status = 400


class ResourceInUse(SageMakerError):
    """A training job name that is already taken."""

    code = "ResourceInUse"
    status = 400


class UnknownOperationException(SageMakerError):
    """An X-Amz-Target this local SageMaker does not implement."""

    code = "UnknownOperationException"
    status = 400


class SerializationException(SageMakerError):
    """A request body that is not a JSON object."""

    code = "SerializationException"
    status = 400


class InternalFailure(SageMakerError):
    """A bug in the local SageMaker itself (the handler logs the traceback)."""


# --- runtime (SageMaker Runtime, REST JSON) ------------------------------------------------
class ValidationError(SageMakerError):
    """InvokeEndpoint on an endpoint that does not exist or is not in service."""

    code = "ValidationError"
    status = 400


class ModelError(SageMakerError):
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
