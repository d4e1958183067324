"""What the CodePipeline tests share: a signed boto3 client for a service URL, and waiting."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import boto3

from localcloud.core.signing import Credentials


def codepipeline_client(url: str, credentials: Credentials) -> Any:
    """A boto3 CodePipeline client for `url`, signed with `credentials`, as the Lambdas' is."""
    return boto3.client(
        "codepipeline",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
    )


def wait_for(check: Callable[[], Any], timeout: float = 10, every: float = 0.02) -> Any:
    """The first truthy answer of `check`, asked every `every` seconds for `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not within {timeout}s: {check}")
