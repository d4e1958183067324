"""Helpers for tests that talk to a local cloud the way a client does."""

from __future__ import annotations

from typing import Any

import boto3
import requests

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
    """Raise the stack's usage plan and stage throttling out of a load test's way, as a user
    would before a load test on AWS (the template's 25 requests a second answer 429 past it)."""
    apigateway = boto3.client("apigateway")
    assert cloud.pipeline_stack is not None
    outputs = cloud.pipeline_stack.outputs
    for plan in apigateway.get_usage_plans(keyId=outputs["ApiKeyId"])["items"]:
        apigateway.update_usage_plan(
            usagePlanId=plan["id"],
            patchOperations=[
                {"op": "replace", "path": "/throttle/rateLimit", "value": "10000"},
                {"op": "replace", "path": "/throttle/burstLimit", "value": "5000"},
                {"op": "remove", "path": "/quota"},
            ],
        )
    for stage in ("dev", "prod"):
        apigateway.update_stage(
            restApiId=outputs["ApiId"],
            stageName=stage,
            patchOperations=[
                {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "10000"},
                {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "5000"},
            ],
        )
    cloud.gateway.refresh()


def prod_config(cloud: LocalCloud) -> str:
    """The endpoint configuration prod serves now."""
    sagemaker = boto3.client("sagemaker")
    return sagemaker.describe_endpoint(EndpointName="abalone-prod")["EndpointConfigName"]
