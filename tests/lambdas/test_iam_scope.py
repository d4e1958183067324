"""IAM names this project's resources exactly: no statement of either template reaches a resource
of another project whose name starts with this one's, and every call the Lambdas, SageMaker and
the notebook make on this project's own names is still allowed.

A project's resources are the ARNs AWS authorizes for what its stacks and pipeline runs make:
the templates resolved offline for that project, and the SageMaker names the Lambdas' own naming
functions give it (SageMaker lower-cases names in its ARNs). moto enforces no IAM, so this is
where a pattern that reaches too far, or not far enough, shows up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from types import ModuleType
from typing import Any

import pytest

from localcloud.cfn import StackContext, TemplateError, resolve
from tests.templates.conftest import (
    as_list,
    iam_matches,
    identity_statements,
    load_template,
    parameter_defaults,
)

ACCOUNT = "123456789012"
REGION = "us-east-1"
PROJECT = "abalone"
# Projects in the same account whose names start with PROJECT's, each ending like one of
# PROJECT's own names or name parts, so that any prefix pattern (`abalone-*`, `abalone-dev-*`,
# `abalone-*-<account>-<region>`) of ours reaches one of their resources.
OTHER_PROJECTS = (
    "abalone-v2",
    "abalone-dev",
    "abalone-prod",
    "abalone-prep",
    "abalone-pipeline",
    "abalone-data",
    "abalone-models",
    "abalone-lambdas",
    "abalone-artifacts",
    "abalone-build",
    "abalone-train",
    "abalone-notebook",
    "abalone-0123456",
    "abalone-dev-20250102",
)
COMMIT = "0123456789abcdef0123456789abcdef01234567"
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
# The region's API Gateway logging role is an account setting: by design it writes the logs of
# every API in the account and region, so it is the one role that reaches past the project.
ACCOUNT_WIDE_ROLES = {"ApiGatewayCloudWatchRole"}
# The property naming each resource type whose ARNs IAM statements build; other resources get a
# generated name, as CloudFormation gives them.
NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::CodeBuild::Project": "Name",
    "AWS::CodePipeline::Pipeline": "Name",
    "AWS::CodeCommit::Repository": "RepositoryName",
    "AWS::SageMaker::NotebookInstance": "NotebookInstanceName",
    "AWS::SageMaker::NotebookInstanceLifecycleConfig": "NotebookInstanceLifecycleConfigName",
}
OBJECT_KEYS = ("test/test.csv", "pipeline/data.zip", "models/job/output/model.tar.gz")
# CloudWatch Logs authorizes actions on a log group (CreateLogGroup, DescribeLogStreams) against
# the group's ARN with an empty stream name.
GROUP = ":log-stream:"


@dataclass(frozen=True)
class Resource:
    """An ARN as AWS authorizes a call on it, what it is, and its tags."""

    kind: str
    arn: str
    tags: Mapping[str, str] = field(default_factory=dict)


def _logs(group: str, stream: str = "") -> str:
    return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}{GROUP}{stream}"


def _sagemaker(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name.lower()}"


# Log groups SageMaker shares between every project in the region: the groups themselves belong
# to no project (their streams do), so reaching them is not reaching another project.
SHARED = [
    Resource("training job log group", _logs("/aws/sagemaker/TrainingJobs")),
    Resource("notebook log group", _logs("/aws/sagemaker/NotebookInstances")),
]


# --- the templates, resolved offline for a project ------------------------------------------------


@dataclass(frozen=True)
class Stack:
    """A template as CloudFormation would create it for one project."""

    template: dict[str, Any]
    context: StackContext


def _stack(
    name: str, template_name: str, parameters: dict[str, str], exports: dict[str, str]
) -> Stack:
    template = load_template(template_name)
    names: dict[str, str] = {}

    def get_att(logical_id: str, attribute: str) -> str:
        kind, name = template["Resources"][logical_id]["Type"], names[logical_id]
        arns = {
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*",
            "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
            "AWS::ECR::Repository": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{name}",
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        if attribute == NAME_PROPERTY.get(kind):
            return name
        raise TemplateError(f"this test cannot resolve Fn::GetAtt {logical_id}.{attribute}")

    context = StackContext(
        stack_name=name,
        region=REGION,
        account_id=ACCOUNT,
        parameters={**parameter_defaults(template), **parameters},
        physical_ids=names,
        exports=exports,
        conditions=template.get("Conditions", {}),
        get_att=get_att,
    )
    for logical_id, resource in template["Resources"].items():
        prop = NAME_PROPERTY.get(resource["Type"])
        names[logical_id] = (
            resolve(resource["Properties"][prop], context)
            if prop
            else f"{name}-{logical_id}-EXAMPLE"  # a generated name, like CloudFormation's
        )
        if resource["Type"] == "AWS::SNS::Topic":  # a topic's Ref is its ARN
            names[logical_id] = f"arn:aws:sns:{REGION}:{ACCOUNT}:{names[logical_id]}"
    return Stack(template, context)


@cache
def stacks(project: str) -> dict[str, Stack]:
    """The project's prep and pipeline stacks, named as `make deploy` names them."""
    prep = _stack(f"{project}-prep", "prep", {"ProjectName": project}, {})
    exports = {
        resolve(output["Export"]["Name"], prep.context): resolve(output["Value"], prep.context)
        for output in prep.template["Outputs"].values()
    }
    pipeline = _stack(
        f"{project}-pipeline", "pipeline", {"PrepStackName": f"{project}-prep"}, exports
    )
    return {"prep": prep, "pipeline": pipeline}


def _stack_resources(stack: Stack) -> Iterator[Resource]:
    """The ARNs of what the stack itself creates (and of the notebook's log streams)."""
    context = stack.context
    yield Resource(
        "stack", f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{context.stack_name}/0a1b2c3d"
    )
    for logical_id, resource in stack.template["Resources"].items():
        kind, name = resource["Type"], context.ref(logical_id)
        if kind in ("AWS::S3::Bucket", "AWS::Lambda::Function", "AWS::ECR::Repository"):
            yield Resource(logical_id, context.attribute(logical_id, "Arn"))
        if kind == "AWS::S3::Bucket":
            for key in OBJECT_KEYS:
                yield Resource(f"{logical_id} object", f"arn:aws:s3:::{name}/{key}")
        elif kind == "AWS::Logs::LogGroup":
            yield Resource(logical_id, _logs(name))
            yield Resource(f"{logical_id} stream", _logs(name, "2025/01/02/[$LATEST]0123abcd"))
        elif kind in ("AWS::SNS::Topic", "AWS::IAM::Role"):
            arn = name if kind == "AWS::SNS::Topic" else context.attribute(logical_id, "Arn")
            yield Resource(logical_id, arn)
        elif kind == "AWS::CodeCommit::Repository":
            yield Resource(logical_id, f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{name}")
        elif kind == "AWS::CodeBuild::Project":
            yield Resource(logical_id, f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/{name}")
        elif kind == "AWS::CodePipeline::Pipeline":
            pipeline = f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:{name}"
            yield Resource(logical_id, pipeline)
            for stage in resource["Properties"]["Stages"]:
                for action in stage["Actions"]:
                    if action["ActionTypeId"]["Category"] == "Approval":
                        arn = f"{pipeline}/{stage['Name']}/{action['Name']}"
                        yield Resource(f"{logical_id} approval", arn)
        elif kind == "AWS::ApiGateway::ApiKey":
            tags = resolve(resource["Properties"].get("Tags", []), context)
            arn = f"arn:aws:apigateway:{REGION}::/apikeys/{name}"
            yield Resource(logical_id, arn, {t["Key"]: t["Value"] for t in tags})
        elif kind == "AWS::SageMaker::NotebookInstance":
            yield Resource(logical_id, _sagemaker("notebook-instance", name))
            for stream in ("jupyter.log", "LifecycleConfigOnStart"):
                arn = _logs("/aws/sagemaker/NotebookInstances", f"{name}/{stream}")
                yield Resource("notebook log stream", arn)


def deploy_environments(project: str) -> list[str]:
    """The `env` of each pipeline action that runs DeployModel (dev, prod)."""
    stack = stacks(project)["pipeline"]
    (pipeline,) = [
        r
        for r in stack.template["Resources"].values()
        if r["Type"] == "AWS::CodePipeline::Pipeline"
    ]
    return [
        json.loads(resolve(action["Configuration"]["UserParameters"], stack.context))["env"]
        for stage in pipeline["Properties"]["Stages"]
        for action in stage["Actions"]
        if action["Configuration"].get("FunctionName") == {"Ref": "DeployModelFunction"}
    ]


@pytest.fixture
def resources_of(
    train_model: ModuleType, deploy_model: ModuleType, codepipeline_job: ModuleType
) -> Callable[[str], list[Resource]]:
    """`resources_of(project)`: everything a project's stacks and one pipeline run make."""

    def resources(project: str) -> list[Resource]:
        found = [r for stack in stacks(project).values() for r in _stack_resources(stack)]
        tag = train_model.image_commit(f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/x:{COMMIT[:7]}")
        job = train_model.training_job_name(project, tag, NOW)
        found += [
            Resource("training-job", _sagemaker("training-job", job)),
            Resource(
                "training job log stream",
                _logs("/aws/sagemaker/TrainingJobs", f"{job}/algo-1-1735787045"),
            ),
        ]
        for env in deploy_environments(project):
            endpoint = codepipeline_job.sagemaker_name(project, env)
            version = deploy_model.version_name(project, env, NOW)
            group = f"/aws/sagemaker/Endpoints/{endpoint}"
            found += [
                Resource("endpoint", _sagemaker("endpoint", endpoint)),
                Resource("endpoint-config", _sagemaker("endpoint-config", version)),
                Resource("model", _sagemaker("model", version)),
                Resource("endpoint log group", _logs(group)),
                Resource("endpoint log stream", _logs(group, "AllTraffic/i-0123456789abcdef0")),
            ]
        return found

    return resources


# --- statements, as IAM evaluates them ------------------------------------------------------------


def scoped_statements() -> Iterator[tuple[str, dict[str, Any]]]:
    """(role, statement) of both templates, resolved for PROJECT, except those on `*` (actions
    without resource-level permissions; test_template_security pins which) and the account-wide
    role."""
    for stack in stacks(PROJECT).values():
        for logical_id, statement in identity_statements(stack.template):
            resolved = resolve(statement, stack.context)
            if resolved["Resource"] != "*" and logical_id not in ACCOUNT_WIDE_ROLES:
                yield logical_id, resolved


def _tags_allow(condition: Mapping[str, Any], tags: Mapping[str, str]) -> bool:
    """Whether the statement's `aws:ResourceTag` conditions hold; the other keys (PassedToService,
    namespace) are about the request, not the resource, so they are taken to hold."""
    for operator, tests in condition.items():
        for key, wanted in tests.items():
            if key.startswith("aws:ResourceTag/"):
                assert operator == "StringEquals", f"{operator} {key}: teach this test about it"
                if tags.get(key.removeprefix("aws:ResourceTag/")) not in as_list(wanted):
                    return False
    return True


def reaches(statement: Mapping[str, Any], pattern: str, resource: Resource) -> bool:
    """Whether one Resource pattern of an Allow statement lets its actions act on the resource."""
    return (
        statement["Effect"] == "Allow"
        and iam_matches(pattern, resource.arn)
        and _tags_allow(statement.get("Condition", {}), resource.tags)
    )


def allows(statement: Mapping[str, Any], action: str, resource: Resource) -> bool:
    """Whether the statement allows the action on the resource."""
    return any(
        iam_matches(a, action, ignore_case=True) for a in as_list(statement["Action"])
    ) and any(reaches(statement, p, resource) for p in as_list(statement["Resource"]))


# --- tests ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("other", OTHER_PROJECTS)
def test_no_statement_reaches_a_project_whose_name_starts_with_this_ones(resources_of, other):
    # GIVEN everything another project's stacks and pipeline runs make in the same account
    theirs = resources_of(other)
    assert {r.kind for r in theirs} == {r.kind for r in resources_of(PROJECT)}
    # WHEN every scoped statement of both templates, resolved for this project, is matched
    reached = [
        f"{role} {statement.get('Sid', '')}: {pattern} reaches {resource.arn}"
        for role, statement in scoped_statements()
        for pattern in as_list(statement["Resource"])
        for resource in theirs
        if reaches(statement, pattern, resource)
    ]
    # THEN none of it is reached
    assert not reached, "\n".join(reached)


def test_every_resource_pattern_names_something_of_this_project(resources_of):
    # GIVEN this project's resources (and the log groups SageMaker shares between projects)
    ours = resources_of(PROJECT) + SHARED
    # WHEN each pattern of each scoped statement is matched THEN it names at least one: a pattern
    # that names nothing is a typo, or a name the templates and the Lambdas no longer make
    dead = [
        f"{role} {statement.get('Sid', '')}: {pattern}"
        for role, statement in scoped_statements()
        for pattern in as_list(statement["Resource"])
        if not any(reaches(statement, pattern, resource) for resource in ours)
    ]
    assert not dead, "\n".join(dead)


# The calls each role makes on this project's names: (role, action, kind of resource).
CALLS = [
    ("TrainModelRole", "sagemaker:CreateTrainingJob", "training-job"),
    ("TrainModelRole", "sagemaker:AddTags", "training-job"),
    ("TrainModelRole", "sagemaker:DescribeTrainingJob", "training-job"),
    ("GetStatusRole", "sagemaker:DescribeTrainingJob", "training-job"),
    ("GetStatusRole", "sagemaker:DescribeEndpoint", "endpoint"),
    ("DeployModelRole", "sagemaker:CreateModel", "model"),
    ("DeployModelRole", "sagemaker:CreateEndpointConfig", "endpoint-config"),
    ("DeployModelRole", "sagemaker:CreateEndpoint", "endpoint"),
    ("DeployModelRole", "sagemaker:UpdateEndpoint", "endpoint"),
    ("DeployModelRole", "sagemaker:DescribeEndpoint", "endpoint"),
    ("DeployModelRole", "sagemaker:DescribeEndpointConfig", "endpoint-config"),
    ("DeployModelRole", "sagemaker:DeleteEndpointConfig", "endpoint-config"),
    ("DeployModelRole", "sagemaker:DeleteModel", "model"),
    ("DeployModelRole", "sagemaker:AddTags", "model"),
    ("DeployModelRole", "sagemaker:AddTags", "endpoint-config"),
    ("DeployModelRole", "sagemaker:AddTags", "endpoint"),
    ("EvaluateModelRole", "sagemaker:DescribeEndpoint", "endpoint"),
    ("EvaluateModelRole", "sagemaker:InvokeEndpoint", "endpoint"),
    ("EvaluateModelRole", "sagemaker:DescribeTrainingJob", "training-job"),
    ("PredictProxyRole", "sagemaker:InvokeEndpoint", "endpoint"),
    ("SageMakerExecutionRole", "logs:CreateLogGroup", "training job log group"),
    ("SageMakerExecutionRole", "logs:DescribeLogStreams", "training job log group"),
    ("SageMakerExecutionRole", "logs:CreateLogStream", "training job log stream"),
    ("SageMakerExecutionRole", "logs:PutLogEvents", "training job log stream"),
    ("SageMakerExecutionRole", "logs:CreateLogGroup", "endpoint log group"),
    ("SageMakerExecutionRole", "logs:CreateLogStream", "endpoint log stream"),
    ("SageMakerExecutionRole", "logs:PutLogEvents", "endpoint log stream"),
    ("NotebookRole", "s3:PutObject", "DataBucket object"),
    ("NotebookRole", "s3:GetObject", "ModelBucket object"),
    *(
        ("NotebookRole", action, f"{bucket}{part}")
        for bucket in ("LambdaCodeBucket", "DataBucket", "ModelBucket", "ArtifactBucket")
        for action, part in (("s3:ListBucketVersions", ""), ("s3:DeleteObjectVersion", " object"))
    ),
    ("NotebookRole", "cloudformation:DescribeStacks", "stack"),
    ("NotebookRole", "codepipeline:StartPipelineExecution", "Pipeline"),
    ("NotebookRole", "codepipeline:PutApprovalResult", "Pipeline approval"),
    ("NotebookRole", "sagemaker:DescribeTrainingJob", "training-job"),
    ("NotebookRole", "sagemaker:InvokeEndpoint", "endpoint"),
    ("NotebookRole", "sagemaker:DeleteEndpoint", "endpoint"),
    ("NotebookRole", "sagemaker:DescribeEndpointConfig", "endpoint-config"),
    ("NotebookRole", "sagemaker:DeleteEndpointConfig", "endpoint-config"),
    ("NotebookRole", "sagemaker:DescribeModel", "model"),
    ("NotebookRole", "sagemaker:DeleteModel", "model"),
    ("NotebookRole", "logs:GetLogEvents", "training job log stream"),
    ("NotebookRole", "logs:GetLogEvents", "endpoint log stream"),
    ("NotebookRole", "logs:FilterLogEvents", "endpoint log group"),
    ("NotebookRole", "logs:GetLogEvents", "TrainModelLogGroup stream"),
    ("NotebookRole", "logs:GetLogEvents", "GetStatusLogGroup stream"),
    ("NotebookRole", "logs:GetLogEvents", "DeployModelLogGroup stream"),
    ("NotebookRole", "logs:GetLogEvents", "EvaluateModelLogGroup stream"),
    ("NotebookRole", "logs:GetLogEvents", "PredictProxyLogGroup stream"),
    ("NotebookRole", "logs:FilterLogEvents", "BuildLogGroup"),
    ("NotebookRole", "logs:CreateLogGroup", "notebook log group"),
    ("NotebookRole", "logs:PutLogEvents", "notebook log stream"),
    ("NotebookRole", "apigateway:GET", "ApiKey"),
]


@pytest.mark.parametrize(("role", "action", "kind"), CALLS)
def test_each_call_on_this_projects_own_names_is_allowed(resources_of, role, action, kind):
    # GIVEN every resource of this kind that the project's stacks and pipeline runs make
    targets = [r for r in resources_of(PROJECT) + SHARED if r.kind == kind]
    assert targets, f"no {kind} among the project's resources"
    # WHEN the role's statements are evaluated for the call THEN each resource is allowed
    statements = [s for r, s in scoped_statements() if r == role]
    denied = [t.arn for t in targets if not any(allows(s, action, t) for s in statements)]
    assert not denied, f"{role} may not {action} on {denied}"
