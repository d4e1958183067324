"""Helpers for tests that talk to a local cloud the way a client does."""

from __future__ import annotations

from typing import Any

import boto3
import requests

from bench.usage_limits import lift_usage_limits as lift_limits
from localcloud.cloud import LocalCloud
from localcloud.samples import sample_records


def approve_all(stage: str, action: str, configuration: dict[str, Any]) -> tuple[bool, str]:
    """An approver that says yes, as the demo's does."""
    return True, "approved by the test"


def raw_records(cloud: LocalCloud, count: int) -> tuple[list[dict[str, Any]], list[float]]:
    """Raw test-split records (as a client would send them) and their true rings."""
    records, truths = sample_records(cloud.state_dir / "data", count)
    return records, [float(truth) for truth in truths]


def predict(
    cloud: LocalCloud,
    stage: str,
    records: list[dict[str, Any]],
    session: requests.Session | None = None,
) -> requests.Response:
    """POST /<stage>/predict through the local API gateway with the cloud's key."""
    return (session or requests).post(
        f"{cloud.gateway_url}/{stage}/predict",
        json={"instances": records},
        headers={"x-api-key": cloud.api_key},
        timeout=30,
    )


def lift_usage_limits(cloud: LocalCloud) -> None:
    """The load tests go far past the template's 25 requests a second: lift the limits, then
    have the gateway read them at once."""
    assert cloud.pipeline_stack is not None
    lift_limits(boto3.client("apigateway"), cloud.pipeline_stack.outputs)
    cloud.gateway.refresh()


def prod_config(cloud: LocalCloud) -> str:
    """The endpoint configuration prod serves now."""
    sagemaker = boto3.client("sagemaker")
    return sagemaker.describe_endpoint(EndpointName="abalone-prod")["EndpointConfigName"]
