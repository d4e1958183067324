"""Least privilege and safe defaults: IAM scoped to the project, PassRole only for SageMaker,
buckets encrypted, private and TLS-only, current Lambda runtimes."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.templates.conftest import (
    TEMPLATE_PATHS,
    as_list,
    identity_statements,
    load_template,
    resources_of_type,
    walk,
)

NAMES = ("prep", "pipeline")
SERVICE_LINKED_ROLE = "iam:CreateServiceLinkedRole"

# Actions that have no resource-level permissions, so "*" is the only possible Resource.
STAR_ONLY_ACTIONS = {
    "codepipeline:PutJobSuccessResult",
    "codepipeline:PutJobFailureResult",
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    "sagemaker:ListTrainingJobs",
    "sagemaker:ListEndpoints",
    "sagemaker:ListEndpointConfigs",
    "sagemaker:ListModels",
    "sagemaker:ListModelPackages",
    "sagemaker:ListDataQualityJobDefinitions",
    "sagemaker:ListModelQualityJobDefinitions",
    # A scalable target's ARN is a random id, not the endpoint's name.
    "application-autoscaling:RegisterScalableTarget",
    "application-autoscaling:PutScalingPolicy",
}


@pytest.mark.parametrize("name", NAMES)
def test_no_full_access_or_administrator_managed_policies(name: str) -> None:
    text = TEMPLATE_PATHS[name].read_text()
    assert not re.search(r"FullAccess|AdministratorAccess|PowerUserAccess", text)
    for resource in load_template(name)["Resources"].values():
        for arn in resource.get("Properties", {}).get("ManagedPolicyArns", []):
            assert not re.search(r"FullAccess|AdministratorAccess", json.dumps(arn))


@pytest.mark.parametrize("name", NAMES)
def test_no_statement_allows_every_action_of_a_service(name: str) -> None:
    for logical_id, statement in identity_statements(load_template(name)):
        for action in as_list(statement["Action"]):
            assert action != "*" and not action.endswith(":*"), (logical_id, action)
        assert "NotAction" not in statement and "NotResource" not in statement


@pytest.mark.parametrize("name", NAMES)
def test_star_resources_only_for_actions_without_resource_level_permissions(name: str) -> None:
    for logical_id, statement in identity_statements(load_template(name)):
        if "*" in as_list(statement["Resource"]):
            assert statement["Resource"] == "*", "no '*' mixed with scoped resources"
            extra = set(as_list(statement["Action"])) - STAR_ONLY_ACTIONS
            assert not extra, f"{logical_id} allows {extra} on '*'"


@pytest.mark.parametrize("name", NAMES)
def test_put_metric_data_is_limited_to_sagemaker_namespaces(name: str) -> None:
    for _, statement in identity_statements(load_template(name)):
        if "cloudwatch:PutMetricData" in as_list(statement["Action"]):
            # Jobs and endpoints publish under /aws/sagemaker/..., Model Monitor under
            # aws/sagemaker/Endpoints/{data,model}-metrics (no leading slash).
            assert statement["Condition"] in (
                {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
                {"StringLike": {"cloudwatch:namespace": "aws/sagemaker/Endpoints/*"}},
            )


@pytest.mark.parametrize("name", NAMES)
def test_scoped_resources_name_this_stack_or_the_project(name: str) -> None:
    """Every ARN string is built from the partition and, for services whose resources the
    project names, carries the project prefix."""
    template = load_template(name)
    for logical_id, statement in identity_statements(template):
        for resource in as_list(statement["Resource"]):
            if resource == "*":
                continue
            if isinstance(resource, dict) and set(resource) <= {"Fn::GetAtt", "Ref"}:
                continue  # a resource of this stack
            sub = resource.get("Fn::Sub")
            text = sub[0] if isinstance(sub, list) else str(sub)  # !Sub [text, variables]
            own = re.fullmatch(r"\$\{(\w+)\.Arn\}/.*", text)
            if own and own.group(1) in template["Resources"]:
                continue  # objects in a bucket of this stack
            text = json.dumps(resource)
            assert "arn:${AWS::Partition}:" in text, (logical_id, text)
            service = re.search(r"arn:\$\{AWS::Partition\}:([a-z0-9-]+):", text).group(1)
            if service == "apigateway":
                assert name == "prep" and statement["Action"] == "apigateway:GET"
                continue  # checked in test_the_notebook_role_reaches_only_project_resources
            if service in ("sagemaker", "codepipeline", "codebuild", "codecommit"):
                assert re.search(r"\$\{(Project|ProjectName|Repository)\}", text), text
            if service == "sagemaker":
                # <project>-…, or the project's model package group and its versions (the
                # group is named after the project: model-package-group/<project>,
                # model-package/<project>/<version>).
                kind = re.search(r":([a-z-]+)/\$\{Project(Name)?\}(-|/\*\"|\")", text)
                assert kind, f"{logical_id}: {text} is not scoped to <project>- or <project>/"


@pytest.mark.parametrize("name", NAMES)
def test_pass_role_only_for_the_sagemaker_roles_and_only_to_sagemaker(name: str) -> None:
    passed = []
    for logical_id, statement in identity_statements(load_template(name)):
        actions = as_list(statement["Action"])
        if not any(a.startswith("iam:") for a in actions) or actions == [SERVICE_LINKED_ROLE]:
            continue
        assert actions == ["iam:PassRole"], logical_id
        assert statement["Condition"] == {
            "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
        }
        passed.append((logical_id, statement["Resource"]["Fn::GetAtt"][0]))
    # TrainModel and DeployModel hand SageMaker the execution role; DeployModel's monitoring
    # job definitions, the monitoring role
    expected = [
        ("TrainModelRole", "SageMakerExecutionRole"),
        ("DeployModelRole", "SageMakerExecutionRole"),
        ("DeployModelRole", "MonitoringRole"),
    ]
    assert sorted(passed) == (sorted(expected) if name == "pipeline" else [])


def test_only_autoscalings_service_linked_role_may_be_created() -> None:
    created = [
        (logical_id, statement)
        for logical_id, statement in identity_statements(load_template("pipeline"))
        if SERVICE_LINKED_ROLE in as_list(statement["Action"])
    ]
    # ProdStatus's first registration of prod's variant creates it, once per account
    ((logical_id, statement),) = created
    assert logical_id == "GetStatusRole"
    assert as_list(statement["Action"]) == [SERVICE_LINKED_ROLE]
    assert statement["Condition"] == {
        "StringEquals": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}
    }
    assert statement["Resource"]["Fn::Sub"].endswith(
        ":role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
    )


def test_one_role_per_concern_and_each_function_its_own() -> None:
    template = load_template("pipeline")
    functions = resources_of_type(template, "AWS::Lambda::Function")
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert len(set(roles)) == len(roles)
    services = {}
    for logical_id, role in resources_of_type(template, "AWS::IAM::Role").items():
        (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Action"] == "sts:AssumeRole"
        services[logical_id] = statement["Principal"]["Service"]
    assert services["SageMakerExecutionRole"] == "sagemaker.amazonaws.com"
    assert services["CodeBuildRole"] == "codebuild.amazonaws.com"
    assert services["PipelineRole"] == "codepipeline.amazonaws.com"
    assert services["PipelineEventsRole"] == "events.amazonaws.com"
    for role in roles:
        assert services[role] == "lambda.amazonaws.com"


def test_pipeline_lambdas_report_to_codepipeline_and_the_proxy_does_not() -> None:
    template = load_template("pipeline")
    pipeline_functions = {
        "TrainModel",
        "GetStatus",
        "DeployModel",
        "EvaluateModel",
        "RegisterModel",
        "RecordApproval",
    }
    reporting = {
        logical_id.removesuffix("Role")
        for logical_id, statement in identity_statements(template)
        if "codepipeline:PutJobSuccessResult" in as_list(statement["Action"])
        and "codepipeline:PutJobFailureResult" in as_list(statement["Action"])
    }
    assert reporting == pipeline_functions


def test_predict_proxy_invokes_only_the_two_stage_endpoints() -> None:
    template = load_template("pipeline")
    statements = [s for r, s in identity_statements(template) if r == "PredictProxyRole"]
    invoke = [s for s in statements if "sagemaker:InvokeEndpoint" in as_list(s["Action"])]
    (statement,) = invoke
    texts = [json.dumps(r) for r in statement["Resource"]]
    assert len(texts) == 2
    assert any("endpoint/${Project}-dev" in t for t in texts)
    assert any("endpoint/${Project}-prod" in t for t in texts)


def _bucket_policies(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        p["Properties"]["Bucket"]["Ref"]: p["Properties"]["PolicyDocument"]
        for p in resources_of_type(template, "AWS::S3::BucketPolicy").values()
    }


@pytest.mark.parametrize("name", NAMES)
def test_buckets_are_versioned_encrypted_private_and_tls_only(name: str) -> None:
    template = load_template(name)
    buckets = resources_of_type(template, "AWS::S3::Bucket")
    assert buckets
    policies = _bucket_policies(template)
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, logical_id
        (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id
        document = policies[logical_id]
        deny = [
            s
            for s in document["Statement"]
            if s["Effect"] == "Deny"
            and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert deny, f"{logical_id} has no TLS-only statement"
        (statement,) = deny
        assert statement["Principal"] == "*" and statement["Action"] == "s3:*"
        assert statement["Resource"] == [
            {"Fn::GetAtt": [logical_id, "Arn"]},
            {"Fn::Sub": f"${{{logical_id}.Arn}}/*"},
        ]


def test_lambda_runtimes_are_python_312_or_newer() -> None:
    for logical_id, function in resources_of_type(
        load_template("pipeline"), "AWS::Lambda::Function"
    ).items():
        match = re.fullmatch(r"python3\.(\d+)", function["Properties"]["Runtime"])
        assert match and int(match.group(1)) >= 12, logical_id


@pytest.mark.parametrize("name", NAMES)
def test_every_lint_suppression_names_its_rule_and_reason(name: str) -> None:
    template = load_template(name)
    for logical_id, resource in template["Resources"].items():
        metadata = resource.get("Metadata", {})
        for skip in metadata.get("checkov", {}).get("skip", []):
            assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), logical_id
            assert len(skip.get("comment", "")) > 40, f"{logical_id} {skip['id']}: say why"
        ignored = metadata.get("cfn-lint", {}).get("config", {}).get("ignore_checks", [])
        assert not ignored, f"{logical_id}: cfn-lint suppressions need a reason"
    # The one template-level cfn-lint suppression (W6001 on outputs) is explained beside it.
    top = template["Metadata"].get("cfn-lint", {}).get("config", {}).get("ignore_checks", [])
    assert top == ([] if name == "prep" else ["W6001"])
    if top:
        assert "W6001 flags" in TEMPLATE_PATHS[name].read_text()


def test_the_notebook_role_reaches_only_project_resources() -> None:
    template = load_template("prep")
    for _, statement in identity_statements(template):
        for resource in as_list(statement["Resource"]):
            if resource == "*":
                continue
            text = json.dumps(resource)
            if "LambdaCodeBucket" in text or set(resource) == {"Fn::GetAtt"}:
                continue  # this stack's bucket, or another resource of this stack
            if text.endswith('log-group:/aws/sagemaker/NotebookInstances:log-stream:"}'):
                assert statement["Action"] == "logs:CreateLogGroup"
                continue  # the group SageMaker logs every notebook to, not its streams
            if text.endswith('::/apikeys/*"}'):
                assert statement["Action"] == "apigateway:GET"
                assert statement["Condition"] == {
                    "StringEquals": {"aws:ResourceTag/project": {"Ref": "ProjectName"}}
                }
                continue  # read-only, and only the key the pipeline stack tags as this project's
            assert "${ProjectName}" in text or "${AWS::StackName}" in text, text
    assert not any(
        isinstance(v, str) and v.startswith("sagemaker:Create") for v in walk(template)
    ), "the notebook watches and cleans up; the pipeline creates"
