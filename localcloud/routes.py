"""The local API gateway's routes and keys, read from the REST API the pipeline template defines."""

from __future__ import annotations

import re
from typing import Any

from localcloud.apigateway.routing import Route
from localcloud.cfn import TemplateError, resolve
from localcloud.stacks import Stack

_FUNCTION_ARN = re.compile(r"\$\{(\w+)\.Arn\}")


def _resource_path(stack: Stack, resource_id: Any) -> str:
    """Walk `AWS::ApiGateway::Resource` parents up to the API root."""
    resources = stack.template["Resources"]
    parts: list[str] = []
    while isinstance(resource_id, dict) and "Ref" in resource_id:
        resource = resources[resource_id["Ref"]]["Properties"]
        parts.append(resolve(resource["PathPart"], stack.context))
        resource_id = resource["ParentId"]
    return "/" + "/".join(reversed(parts))


def _integrated_function(stack: Stack, integration: dict[str, Any]) -> str:
    """The physical name of the Lambda an AWS_PROXY integration URI points at."""
    if integration.get("Type") != "AWS_PROXY":
        raise TemplateError("the local gateway serves Lambda proxy (AWS_PROXY) integrations only")
    uri = integration["Uri"]
    text = uri.get("Fn::Sub", "") if isinstance(uri, dict) else uri
    if isinstance(text, list):
        text = text[0]
    match = _FUNCTION_ARN.search(text)
    if match is None:
        raise TemplateError(f"cannot find the Lambda function in integration URI {uri!r}")
    return stack.context.physical_ids[match.group(1)]


def routes_of(stack: Stack) -> list[Route]:
    """Every (stage, method, path) of the stack's REST API, with its function and variables."""
    stages = [
        resolve(stage["Properties"], stack.context)
        for stage in stack.resources_of_type("AWS::ApiGateway::Stage").values()
    ]
    routes = []
    for method in stack.resources_of_type("AWS::ApiGateway::Method").values():
        properties = method["Properties"]
        path = _resource_path(stack, properties["ResourceId"])
        function = _integrated_function(stack, properties["Integration"])
        routes.extend(
            Route(
                stage=stage["StageName"],
                method=properties["HttpMethod"],
                path=path,
                function=function,
                stage_variables=stage.get("Variables", {}),
                api_key_required=bool(properties.get("ApiKeyRequired", False)),
            )
            for stage in stages
        )
    return routes
