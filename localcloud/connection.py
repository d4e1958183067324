"""The connection file's schema: what `connection.json` tells clients about a running cloud.

Written by the background cloud (`localcloud.daemon`), read through `localcloud.client`; the
notebook, bench and tests find the endpoints, credentials, API key and stack outputs here.
"""

from __future__ import annotations

import os
import time
from typing import Any

from localcloud.cloud import LocalCloud


def connection_document(cloud: LocalCloud, control_url: str) -> dict[str, Any]:
    """How clients reach this started cloud and its control API (written as connection.json)."""
    assert cloud.pipeline_stack is not None and cloud.prep_stack is not None
    return {
        "pid": os.getpid(),
        "started": time.time(),
        "api_url": cloud.gateway_url,
        "api_key": cloud.api_key,
        "control_url": control_url,
        "region": cloud.environment["AWS_DEFAULT_REGION"],
        "aws_access_key_id": cloud.credentials.access_key_id,
        "aws_secret_access_key": cloud.credentials.secret_access_key,
        # One edge endpoint serves every service; clients need nothing but "default".
        "endpoints": {"default": cloud.environment["AWS_ENDPOINT_URL"]},
        "environment": cloud.environment,
        "stacks": {
            "prep": cloud.prep_stack.outputs,
            "pipeline": cloud.pipeline_stack.outputs,
        },
    }
