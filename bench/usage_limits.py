"""Lift the API's usage plan and stage throttling before a load run, as a user would on AWS.

The template limits each key to 25 requests a second (bursts of 50) and 10,000 a day; the local
gateway enforces that as API Gateway does (429), so load runs raise the limits first through
API Gateway's own API (the local gateway re-reads it every `REFRESH_SECONDS`).
"""

from __future__ import annotations

from typing import Any

RATE, BURST = "10000", "5000"
STAGES = ("dev", "prod")


def lift_usage_limits(apigateway: Any, outputs: dict[str, str]) -> None:
    """Raise the key's usage plans and both stages' method throttling; drop the quota."""
    for plan in apigateway.get_usage_plans(keyId=outputs["ApiKeyId"])["items"]:
        apigateway.update_usage_plan(
            usagePlanId=plan["id"],
            patchOperations=[
                {"op": "replace", "path": "/throttle/rateLimit", "value": RATE},
                {"op": "replace", "path": "/throttle/burstLimit", "value": BURST},
                {"op": "remove", "path": "/quota"},
            ],
        )
    for stage in STAGES:
        apigateway.update_stage(
            restApiId=outputs["ApiId"],
            stageName=stage,
            patchOperations=[
                {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": RATE},
                {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": BURST},
            ],
        )
