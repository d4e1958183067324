"""Every AWS API a Lambda calls is allowed by the IAM role the pipeline template gives it.

moto does not enforce IAM, so without this check a missing permission shows up only on AWS,
as an AccessDenied on the first request.
"""

from __future__ import annotations

import re
from pathlib import Path

import boto3
import pytest
from cfnlint.decode import cfn_yaml

from tests.templates.conftest import iam_matches

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = cfn_yaml.load(str(REPO_ROOT / "templates" / "02-pipeline.yml"))
FUNCTIONS = {
    "train_model": "TrainModelFunction",
    "get_status": "GetStatusFunction",
    "deploy_model": "DeployModelFunction",
    "evaluate_model": "EvaluateModelFunction",
    "predict_proxy": "PredictProxyFunction",
}
# Module-level client name in app.py -> (boto3 service, IAM action prefix)
CLIENTS = {
    "SAGEMAKER": ("sagemaker", "sagemaker"),
    "RUNTIME": ("sagemaker-runtime", "sagemaker"),
    "S3": ("s3", "s3"),
    "SNS": ("sns", "sns"),
}
JOB_RESULTS = {"codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult"}


def called_actions(source: str) -> set[str]:
    """IAM actions for the API calls in a handler's source, direct or by operation name."""
    actions = set()
    quoted = set(re.findall(r"\"([a-z_]+)\"", source))
    for constant, (service, prefix) in CLIENTS.items():
        if f"{constant} = boto3.client(" not in source:
            continue
        mapping = boto3.client(service, region_name="us-east-1").meta.method_to_api_mapping
        methods = set(re.findall(rf"\b{constant}\.(\w+)\(", source)) | quoted
        if re.search(rf"describe_endpoint\({constant}\b", source):
            methods.add("describe_endpoint")
        actions |= {f"{prefix}:{mapping[m]}" for m in methods if m in mapping}
    # Implicit permissions: SageMaker checks AddTags for tags given at creation, and IAM checks
    # PassRole for the execution role a training job or model is given.
    if "SAGEMAKER = boto3.client(" in source and re.search(r"\bTags\b", source):
        actions.add("sagemaker:AddTags")
    if re.search(r"\b(RoleArn|ExecutionRoleArn)\b", source):
        actions.add("iam:PassRole")
    if "run_job(" in source:
        actions |= JOB_RESULTS
    return actions


def allowed_actions(function_logical_id: str) -> set[str]:
    """The actions the function's role allows, from its inline policies."""
    role_id = TEMPLATE["Resources"][function_logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    allowed = set()
    for policy in TEMPLATE["Resources"][role_id]["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            action = statement["Action"]
            allowed |= {action} if isinstance(action, str) else set(action)
    return allowed


@pytest.mark.parametrize("folder", sorted(FUNCTIONS))
def test_role_allows_every_call_the_function_makes(folder: str) -> None:
    # GIVEN the handler's source and its role in the template
    source = (REPO_ROOT / "lambdas" / folder / "app.py").read_text()
    allowed = allowed_actions(FUNCTIONS[folder])
    # WHEN we list the API calls it makes
    needed = called_actions(source)
    # THEN each is allowed (wildcards as IAM reads them), and the scan found calls at all
    assert needed, f"no AWS calls found in lambdas/{folder}/app.py: the scan is broken"
    missing = {a for a in needed if not any(iam_matches(p, a, ignore_case=True) for p in allowed)}
    assert not missing, f"{FUNCTIONS[folder]}'s role lacks {sorted(missing)}"
