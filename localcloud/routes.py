"""The local API gateway's REST API, read from moto through the API Gateway API, as deployed.

Stages (with their variables and method throttling), resources and methods, API keys, usage
plans and the resource policy all come from `apigateway` calls a client could make (the stack
created them there), so a key or plan added with `aws apigateway` serves like one the template
made. `local_urls` maps the stack's `execute-api` URLs to the gateway URLs that answer for them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from localcloud.apigateway.definition import ApiDefinition, ApiKey, UsagePlan
from localcloud.apigateway.policy import ResourcePolicy, UnsupportedPolicy
from localcloud.apigateway.routing import Route
from localcloud.apigateway.usage import Quota, Throttle

# arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/invocations
_LAMBDA_URI = re.compile(
    r"^arn:[^:]+:apigateway:[^:]+:lambda:path/[^/]+/functions/([^/]+)/invocations$"
)
_EXECUTE_API_URL = re.compile(
    r"^https://([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(/.*)$"
)


class UnsupportedApi(ValueError):
    """A REST API the local gateway cannot serve as API Gateway would."""


def _pages(apigateway: Any, operation: str, **arguments: Any) -> list[dict[str, Any]]:
    """Every item of a paginated `apigateway` listing."""
    items: list[dict[str, Any]] = []
    for page in apigateway.get_paginator(operation).paginate(**arguments):
        items += page.get("items", [])
    return items


def _function_name(method: dict[str, Any], where: str) -> str:
    integration = method.get("methodIntegration") or {}
    if integration.get("type") != "AWS_PROXY":
        raise UnsupportedApi(f"{where}: the local gateway serves Lambda proxy integrations only")
    match = _LAMBDA_URI.match(integration.get("uri", ""))
    if match is None:
        raise UnsupportedApi(f"{where}: no Lambda function in integration URI {integration}")
    return match.group(1).split(":")[6]  # arn:aws:lambda:<region>:<account>:function:<name>


def _method_throttle(stage: dict[str, Any], path: str, method: str) -> Throttle | None:
    """The stage's throttling for one method: its own setting, else the stage's `*/*`."""
    settings = stage.get("methodSettings") or {}
    own = f"{path.lstrip('/').replace('/', '~1')}/{method}"
    setting = settings.get(own) or settings.get("*/*") or {}
    if "throttlingRateLimit" not in setting and "throttlingBurstLimit" not in setting:
        return None
    return Throttle(
        float(setting.get("throttlingRateLimit", 10000.0)),
        int(setting.get("throttlingBurstLimit", 5000)),
    )


def _routes(apigateway: Any, api_id: str) -> tuple[Route, ...]:
    stages = apigateway.get_stages(restApiId=api_id)["item"]
    routes = []
    for resource in _pages(apigateway, "get_resources", restApiId=api_id):
        for http_method, method in (resource.get("resourceMethods") or {}).items():
            where = f"{http_method} {resource['path']}"
            function = _function_name(method, where)
            routes += [
                Route(
                    stage=stage["stageName"],
                    method=http_method,
                    path=resource["path"],
                    function=function,
                    stage_variables=stage.get("variables") or {},
                    api_key_required=bool(method.get("apiKeyRequired")),
                    throttle=_method_throttle(stage, resource["path"], http_method),
                )
                for stage in stages
            ]
    return tuple(routes)


def _plans(apigateway: Any, api_id: str) -> tuple[UsagePlan, ...]:
    plans = []
    for plan in _pages(apigateway, "get_usage_plans"):
        stages = frozenset(s["stage"] for s in plan.get("apiStages", []) if s["apiId"] == api_id)
        if not stages:
            continue
        if any(s.get("throttle") for s in plan["apiStages"]):
            raise UnsupportedApi(f"usage plan {plan['id']}: per-method throttling is not modelled")
        keys = _pages(apigateway, "get_usage_plan_keys", usagePlanId=plan["id"])
        throttle, quota = plan.get("throttle"), plan.get("quota")
        plans.append(
            UsagePlan(
                id=plan["id"],
                stages=stages,
                key_ids=frozenset(key["id"] for key in keys),
                throttle=Throttle(float(throttle["rateLimit"]), int(throttle["burstLimit"]))
                if throttle
                else None,
                quota=Quota(int(quota["limit"]), quota["period"], int(quota.get("offset", 0)))
                if quota
                else None,
            )
        )
    return tuple(plans)


def _policy(api: dict[str, Any], arn: str) -> ResourcePolicy | None:
    text = api.get("policy")
    if not text:
        return None
    # API Gateway hands the policy back as JSON text escaped once more; moto as it was given.
    document = json.loads(text) if text.startswith('"') else text
    return ResourcePolicy(document, arn)


def read_api(apigateway: Any, api_id: str, account_id: str) -> ApiDefinition:
    """The REST API `api_id` as deployed now, from an `apigateway` client."""
    api = apigateway.get_rest_api(restApiId=api_id)
    region = apigateway.meta.region_name
    definition = ApiDefinition(
        routes=_routes(apigateway, api_id),
        api_keys=tuple(
            ApiKey(key["id"], key["value"], bool(key.get("enabled")))
            for key in _pages(apigateway, "get_api_keys", includeValues=True)
        ),
        usage_plans=_plans(apigateway, api_id),
        api_id=api_id,
        region=region,
        account_id=account_id,
    )
    try:
        return replace(definition, policy=_policy(api, definition.arn))
    except UnsupportedPolicy as error:
        return replace(definition, problem=f"resource policy of API {api_id}: {error}")


def local_urls(outputs: Mapping[str, str], gateway_url: str) -> dict[str, str]:
    """Each `execute-api` URL among a stack's outputs, mapped to the local URL answering for it."""
    return {
        url: gateway_url + match.group(2)
        for url in outputs.values()
        if (match := _EXECUTE_API_URL.match(url))
    }
