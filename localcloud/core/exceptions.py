"""Errors every local AWS service answers with: one class per AWS error code, AWS's wording."""

from __future__ import annotations

from typing import Any, ClassVar


class AwsError(Exception):
    """An error the client sees as a botocore ClientError with this code and message."""

    code: ClassVar[str] = "InternalFailure"
    status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def fields(self) -> dict[str, Any]:
        """Extra members of the modeled error shape, serialized next to the message."""
        return {}


class InternalFailure(AwsError):
    """A bug in the local service itself (the server logs the traceback)."""

    status = 500


class ValidationException(AwsError):
    """A request member that breaks the model's constraints, or a request the service refuses."""

    code = "ValidationException"


class SerializationException(AwsError):
    """A body that is not JSON, or a member of the wrong JSON type."""

    code = "SerializationException"


class UnknownOperationException(AwsError):
    """An action this local service does not implement."""

    code = "UnknownOperationException"


# --- authentication (SigV4) ------------------------------------------------------------------
class MissingAuthenticationTokenException(AwsError):
    """An unsigned request."""

    code = "MissingAuthenticationTokenException"
    status = 403

    def __init__(self) -> None:
        super().__init__("Missing Authentication Token")


class IncompleteSignatureException(AwsError):
    """An Authorization header that is not a complete AWS4-HMAC-SHA256 signature."""

    code = "IncompleteSignatureException"


class UnrecognizedClientException(AwsError):
    """A request signed with an access key this cloud did not issue."""

    code = "UnrecognizedClientException"
    status = 403

    def __init__(self) -> None:
        super().__init__("The security token included in the request is invalid.")


class InvalidSignatureException(AwsError):
    """A signature that does not match the request, or one too old or too far in the future."""

    code = "InvalidSignatureException"
    status = 403

    MISMATCH: ClassVar[str] = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. "
        "Consult the service documentation for details."
    )
