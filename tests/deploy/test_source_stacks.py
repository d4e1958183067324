"""Both stacks, created in moto by `make deploy` for each model-code source: the pipeline's
source action (as the local CodePipeline reads it from the created stack), the trigger it
implies, and the one repository, connection or object the pipeline role may read."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from localcloud.codepipeline.definition import read_pipeline
from localcloud.stacks import PIPELINE_TEMPLATE, read_stack
from tests.deploy.conftest import PIPELINE_STACK, PREP_STACK, PROJECT, Aws, Result
from tests.deploy.test_source_parameters import ARN, CLONE_URL, CONNECTION, REPO_ID

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning")

CONNECTION_ID = ARN.rsplit("/", 1)[1]
SOURCES: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "S3": ({"SourceProvider": "S3"}, {}),
    "CodeCommit": ({"SourceProvider": "CodeCommit", "BranchName": "develop"}, {}),
    "CodeConnection": ({**CONNECTION, "BranchName": "release"}, {"GitCloneUrl": CLONE_URL}),
}


def _model_code_action(aws: Aws) -> tuple[str, dict[str, Any]]:
    """(provider, configuration) of Source/ModelCode in the created pipeline stack."""
    session = boto3.session.Session()
    stack = read_stack(session, PIPELINE_STACK, PIPELINE_TEMPLATE)
    (source,) = [
        s for s in read_pipeline(stack.template, stack.context).stages if s.name == "Source"
    ]
    (action,) = [a for a in source.actions if a.name == "ModelCode"]
    assert action.output_artifacts == ("SourceOutput",), "Build reads SourceOutput unchanged"
    return action.provider, dict(action.configuration)


def _pipeline_role_statement(aws: Aws, sid: str) -> dict[str, Any]:
    iam = boto3.client("iam")
    resources = aws.cfn.list_stack_resources(StackName=PIPELINE_STACK)["StackResourceSummaries"]
    (role,) = [
        r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "PipelineRole"
    ]
    (policy,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
    if isinstance(document, str):  # moto 5.2.5 keeps a stack's inline policy as Python's repr
        document = ast.literal_eval(document)
    (statement,) = [s for s in document["Statement"] if s.get("Sid") == sid]
    return statement


def _rules(aws: Aws) -> set[str]:
    resources = aws.cfn.list_stack_resources(StackName=PIPELINE_STACK)["StackResourceSummaries"]
    return {
        r["LogicalResourceId"]
        for r in resources
        if r["LogicalResourceId"] in {"ModelCodeRule", "ModelCodeUploadRule"}
    }


@pytest.mark.parametrize("source", SOURCES)
def test_each_source_gets_its_action_its_trigger_and_only_its_own_read_permission(
    aws: Aws, run: Callable[..., Result], params_file: Callable[..., Path], source: str
) -> None:
    pipeline, prep = SOURCES[source]
    result = run("deploy", "--params", str(params_file(pipeline=pipeline, prep=prep)))
    assert result.code == 0, result.err

    outputs = aws.outputs(PIPELINE_STACK)
    data_bucket = outputs["DataBucketName"]
    provider, configuration = _model_code_action(aws)
    statement = _pipeline_role_statement(aws, "ModelCodeSource")
    if source == "S3":
        assert (provider, configuration) == (
            "S3",
            {
                "S3Bucket": data_bucket,
                "S3ObjectKey": "pipeline/model-code.zip",
                "PollForSourceChanges": False,
            },
        )
        assert statement["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
        assert statement["Resource"] == f"arn:aws:s3:::{data_bucket}/pipeline/model-code.zip"
        assert outputs["ModelCodeUploadUri"] == f"s3://{data_bucket}/pipeline/model-code.zip"
        assert _rules(aws) == {"ModelCodeUploadRule"}
        assert "Repository" not in {
            r["LogicalResourceId"]
            for r in aws.cfn.list_stack_resources(StackName=PREP_STACK)["StackResourceSummaries"]
        }
    elif source == "CodeCommit":
        assert (provider, configuration) == (
            "CodeCommit",
            {"RepositoryName": PROJECT, "BranchName": "develop", "PollForSourceChanges": False},
        )
        assert "codecommit:GitPush" not in statement["Action"]
        assert "codecommit:GetBranch" in statement["Action"]
        assert statement["Resource"] == f"arn:aws:codecommit:us-east-1:123456789012:{PROJECT}"
        assert _rules(aws) == {"ModelCodeRule"}
        assert boto3.client("codecommit").get_repository(repositoryName=PROJECT)
    else:
        assert (provider, configuration) == (
            "CodeStarSourceConnection",
            {
                "ConnectionArn": ARN,
                "FullRepositoryId": REPO_ID,
                "BranchName": "release",
                "OutputArtifactFormat": "CODE_ZIP",
            },
        )
        assert statement["Action"] == [
            "codeconnections:UseConnection",
            "codestar-connections:UseConnection",
        ]
        assert statement["Resource"] == [
            f"arn:aws:codeconnections:us-east-1:123456789012:connection/{CONNECTION_ID}",
            f"arn:aws:codestar-connections:us-east-1:123456789012:connection/{CONNECTION_ID}",
        ]
        assert _rules(aws) == set(), "the pipeline's push trigger starts it, not a rule"
    assert ("ModelCodeUploadUri" in outputs) == (source == "S3")
