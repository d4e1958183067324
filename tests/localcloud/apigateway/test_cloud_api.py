"""The stacks' resources as a client sees them in a local cloud, and the gateway serving from them.

One cloud serves the module, its pipeline stack launched with an approval e-mail and an allow
list that admits this machine. Clients are boto3's, against the cloud's own endpoint.
"""

from __future__ import annotations

import json
import string
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from localcloud.cfn import render
from localcloud.cloud import LocalCloud
from localcloud.routes import local_urls
from localcloud.stacks import Stack
from tests.conftest import running_cloud

pytestmark = pytest.mark.e2e
ALLOWED = "127.0.0.1/32,198.51.100.0/24"
EMAIL = "ml-team@example.com"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, lambda_zips: Path) -> Iterator[LocalCloud]:
    """A cloud whose pipeline stack has an approval e-mail and a source allow list."""
    with running_cloud(
        tmp_path_factory, lambda_zips, ApprovalEmail=EMAIL, AllowedSourceCidrs=ALLOWED
    ) as local_cloud:
        yield local_cloud


@pytest.fixture(scope="module")
def apigateway(cloud: LocalCloud) -> Any:
    return boto3.client("apigateway")


def outputs(cloud: LocalCloud) -> dict[str, str]:
    assert cloud.pipeline_stack is not None
    return cloud.pipeline_stack.outputs


def post(cloud: LocalCloud, key: str, stage: str = "prod") -> requests.Response:
    return requests.post(
        f"{cloud.gateway_url}/{stage}/predict",
        json={"instances": [{"sex": "M"}]},
        headers={"x-api-key": key},
        timeout=30,
    )


def _declared(stack: Stack) -> dict[str, str]:
    """Logical id -> type of the template's resources whose Condition holds in this stack."""
    return {
        logical_id: resource["Type"]
        for logical_id, resource in stack.template["Resources"].items()
        if "Condition" not in resource or stack.context.condition(resource["Condition"])
    }


@pytest.mark.parametrize("which", ["prep", "pipeline"])
def test_every_declared_resource_is_described_with_its_type_and_physical_id(
    cloud: LocalCloud, which: str
) -> None:
    stack = cloud.prep_stack if which == "prep" else cloud.pipeline_stack
    assert stack is not None
    cfn = boto3.client("cloudformation")
    declared = _declared(stack)
    for logical_id, resource_type in declared.items():
        detail = cfn.describe_stack_resource(StackName=stack.name, LogicalResourceId=logical_id)
        detail = detail["StackResourceDetail"]
        assert detail["ResourceType"] == resource_type, logical_id
        assert detail["PhysicalResourceId"], logical_id
        assert detail["ResourceStatus"] == "CREATE_COMPLETE"
    listed = cfn.list_stack_resources(StackName=stack.name)["StackResourceSummaries"]
    assert {r["LogicalResourceId"]: r["ResourceType"] for r in listed} == declared
    described = cfn.describe_stack_resources(StackName=stack.name)["StackResources"]
    assert {r["LogicalResourceId"] for r in described} == set(declared)
    # every output of the cloud's parameters (its source's) has its value, ApiKeyId included
    assert set(stack.outputs) == set(render(stack.template, stack.context.parameters)["Outputs"])
    assert all(stack.outputs.values())


def test_the_api_key_output_reads_the_value_the_gateway_accepts(
    cloud: LocalCloud, apigateway: Any
) -> None:
    # GIVEN the key's value read as the README says (get-api-key --include-value)
    key = apigateway.get_api_key(apiKey=outputs(cloud)["ApiKeyId"], includeValue=True)
    assert len(key["value"]) == 40
    assert set(key["value"]) <= set(string.ascii_letters + string.digits)
    assert key["enabled"] is True
    # THEN the gateway lets it through to the function, and refuses any other value
    assert post(cloud, key["value"]).status_code != 403
    refused = post(cloud, "x" * 40)
    assert refused.status_code == 403
    assert refused.json() == {"message": "Forbidden"}


def test_stages_and_the_usage_plan_are_the_templates(cloud: LocalCloud, apigateway: Any) -> None:
    api_id = outputs(cloud)["ApiId"]
    physical = cloud.pipeline_stack.context.physical_ids  # type: ignore[union-attr]
    stages = {s["stageName"]: s for s in apigateway.get_stages(restApiId=api_id)["item"]}
    assert set(stages) == {"dev", "prod"}
    for name, stage in stages.items():
        assert stage["variables"] == {"endpointName": f"abalone-{name}"}
        assert stage["deploymentId"] == physical["ApiDeployment"]
        assert stage["tracingEnabled"] is True
    assert stages["prod"]["methodSettings"]["*/*"]["throttlingBurstLimit"] == 50
    (plan,) = apigateway.get_usage_plans(keyId=outputs(cloud)["ApiKeyId"])["items"]
    assert plan["throttle"] == {"rateLimit": 25.0, "burstLimit": 50}
    assert plan["quota"] == {"limit": 10000, "period": "DAY"}
    assert {(s["apiId"], s["stage"]) for s in plan["apiStages"]} == {
        (api_id, "dev"),
        (api_id, "prod"),
    }
    keys = apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]
    assert [k["id"] for k in keys] == [outputs(cloud)["ApiKeyId"]]


def test_the_build_project_repository_and_subscription_exist(cloud: LocalCloud) -> None:
    assert cloud.prep_stack is not None and cloud.pipeline_stack is not None
    (project,) = boto3.client("codebuild").batch_get_projects(names=["abalone-build"])["projects"]
    assert project["environment"]["privilegedMode"] is True
    repository = boto3.client("codecommit").get_repository(repositoryName="abalone")
    assert (
        repository["repositoryMetadata"]["repositoryId"]
        == cloud.prep_stack.context.physical_ids["Repository"]
    )
    topic = outputs(cloud)["NotificationTopicArn"]
    subscriptions = boto3.client("sns").list_subscriptions_by_topic(TopicArn=topic)
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions["Subscriptions"]] == [
        ("email", EMAIL)
    ]


def _new_key_in_plan(apigateway: Any, api_id: str, **limits: Any) -> str:
    """A key in a usage plan of its own on prod, made through the API as a user would."""
    key = apigateway.create_api_key(name=f"test-{time.monotonic_ns()}", enabled=True)
    plan = apigateway.create_usage_plan(
        name=f"plan-{key['id']}", apiStages=[{"apiId": api_id, "stage": "prod"}], **limits
    )
    apigateway.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    return str(key["value"])


def test_a_usage_plans_throttle_and_quota_are_enforced_per_key(
    cloud: LocalCloud, apigateway: Any
) -> None:
    api_id = outputs(cloud)["ApiId"]
    # GIVEN two new keys: one in a plan bursting 2, the other in a plan of 2 requests a day
    throttled = _new_key_in_plan(apigateway, api_id, throttle={"rateLimit": 0.01, "burstLimit": 2})
    limited = _new_key_in_plan(apigateway, api_id, quota={"limit": 2, "period": "DAY"})
    cloud.gateway.refresh()  # what the gateway does every second
    # WHEN each sends 3 requests THEN the third gets API Gateway's answer for its limit
    answers = [post(cloud, throttled) for _ in range(3)]
    assert [a.status_code == 429 for a in answers] == [False, False, True]
    assert answers[-1].json() == {"message": "Too Many Requests"}
    answers = [post(cloud, limited) for _ in range(3)]
    assert [a.status_code == 429 for a in answers] == [False, False, True]
    assert answers[-1].json() == {"message": "Limit Exceeded"}
    # AND the stack's own key is not affected
    key = apigateway.get_api_key(apiKey=outputs(cloud)["ApiKeyId"], includeValue=True)["value"]
    assert post(cloud, key).status_code != 429


def test_the_allow_list_parameter_admits_listed_sources_and_refuses_others(
    cloud: LocalCloud, apigateway: Any
) -> None:
    api_id = outputs(cloud)["ApiId"]
    api = apigateway.get_rest_api(restApiId=api_id)
    (statement,) = json.loads(api["policy"])["Statement"]
    assert statement["Condition"]["IpAddress"]["aws:SourceIp"] == ALLOWED.split(",")
    assert statement["Resource"] == [
        "execute-api:/*/POST/predict",
        "execute-api:/*/POST/ground-truth",
    ]
    key = cloud.api_key
    assert post(cloud, key).status_code != 403  # 127.0.0.1 is listed
    # WHEN the list no longer names this machine (a new policy, then a deployment, as on AWS)
    statement["Condition"]["IpAddress"]["aws:SourceIp"] = ["198.51.100.0/24"]
    narrowed = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    operation = [{"op": "replace", "path": "/policy", "value": narrowed}]
    apigateway.update_rest_api(restApiId=api_id, patchOperations=operation)
    try:
        cloud.gateway.refresh()
        refused = post(cloud, key)
    finally:
        operation[0]["value"] = api["policy"]
        apigateway.update_rest_api(restApiId=api_id, patchOperations=operation)
        cloud.gateway.refresh()
    # THEN the gateway refuses with API Gateway's words, naming the method's ARN
    assert refused.status_code == 403
    arn = f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/prod/POST/predict"
    assert refused.json() == {
        "Message": f"User: anonymous is not authorized to perform: execute-api:Invoke on "
        f"resource: {arn}"
    }
    assert post(cloud, key).status_code != 403


def test_each_execute_api_output_maps_to_the_local_url_answering_for_it(cloud: LocalCloud) -> None:
    mapped = local_urls(outputs(cloud), cloud.gateway_url)
    assert mapped == {
        outputs(cloud)["DevPredictUrl"]: f"{cloud.gateway_url}/dev/predict",
        outputs(cloud)["ProdPredictUrl"]: f"{cloud.gateway_url}/prod/predict",
        outputs(cloud)["DevGroundTruthUrl"]: f"{cloud.gateway_url}/dev/ground-truth",
        outputs(cloud)["ProdGroundTruthUrl"]: f"{cloud.gateway_url}/prod/ground-truth",
    }
    for local in mapped.values():
        # a route that exists wants a key (Forbidden), unlike one that does not
        answer = requests.post(local, json={}, timeout=10)
        assert answer.json() == {"message": "Forbidden"}
