"""What a boto3 call's ClientError says: AWS's error code, message and HTTP status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


def error_of(call: Callable[..., Any], **parameters: Any) -> tuple[str, str, int]:
    """Make the call, which must fail; its (code, message, status)."""
    with pytest.raises(ClientError) as raised:
        call(**parameters)
    response = raised.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )
