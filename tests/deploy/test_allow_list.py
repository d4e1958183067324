"""make deploy and the API's allow list: a changed AllowedSourceCidrs is deployed to each stage."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import boto3

from tests.deploy.conftest import PIPELINE_STACK, Aws, Result


def _deployments(api_id: str) -> dict[str, str]:
    stages = boto3.client("apigateway").get_stages(restApiId=api_id)["item"]
    return {stage["stageName"]: stage["deploymentId"] for stage in stages}


def test_a_changed_allow_list_is_a_new_deployment_of_each_stage(
    aws: Aws,
    deployed: Result,
    run: Callable[..., Result],
    params_file: Callable[..., Path],
) -> None:
    # GIVEN deployed stacks with no allow list
    api_id = aws.outputs(PIPELINE_STACK)["ApiId"]
    before = _deployments(api_id)
    assert set(before) == {"dev", "prod"}
    assert "policy" not in boto3.client("apigateway").get_rest_api(restApiId=api_id)
    # WHEN deployed again with one
    narrowed = params_file(pipeline={"AllowedSourceCidrs": "203.0.113.0/24"})
    result = run("deploy", "--params", str(narrowed))
    # THEN the API has the policy and each stage a new deployment carrying it
    assert result.code == 0, result.err
    api = boto3.client("apigateway").get_rest_api(restApiId=api_id)
    (statement,) = json.loads(api["policy"])["Statement"]
    assert statement["Condition"]["IpAddress"]["aws:SourceIp"] == ["203.0.113.0/24"]
    after = _deployments(api_id)
    assert all(after[stage] != before[stage] for stage in before)
    assert "stage prod: deployed" in result.out
    # AND deploying the same list again deploys nothing
    again = run("deploy", "--params", str(narrowed))
    assert again.code == 0, again.err
    assert _deployments(api_id) == after
