"""IAM names this project's resources exactly: no statement of either template reaches a resource
of another project whose name starts with this one's, and every call SageMaker and the notebook
make on this project's own names is still allowed (the Lambdas' calls: iam_recorder).

A project's resources are the ARNs AWS authorizes for what its stacks and pipeline runs make:
the templates resolved offline for that project, and the SageMaker names the Lambdas' own naming
functions give it (SageMaker lower-cases names in its ARNs). moto enforces no IAM, so this is
where a pattern that reaches too far, or not far enough, shows up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest

from localcloud.cfn import render, resolve
from tests.lambdas.conftest import load_module
from tests.lambdas.iam_policy import ACCOUNT, REGION, Resource, Stack, allows, reaches, stacks
from tests.templates.conftest import as_list, identity_statements

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
OBJECT_KEYS = (
    "test/test.csv",
    "pipeline/data.zip",
    "pipeline/model-code.zip",
    "models/job/output/model.tar.gz",
    "models/job/output/evidence/data-quality-constraints.json",
)
# CloudWatch Logs authorizes actions on a log group (CreateLogGroup, DescribeLogStreams) against
# the group's ARN with an empty stream name.
GROUP = ":log-stream:"


def _logs(group: str, stream: str = "") -> str:
    return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}{GROUP}{stream}"


def _sagemaker(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name.lower()}"


# Log groups SageMaker shares between every project in the region: the groups themselves belong
# to no project (their streams do), so reaching them is not reaching another project.
SHARED = [
    # One per account, made by the first registration of a SageMaker variant for autoscaling.
    Resource(
        "autoscaling service-linked role",
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/sagemaker.application-autoscaling."
        "amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
    ),
    Resource("training job log group", _logs("/aws/sagemaker/TrainingJobs")),
    Resource("notebook log group", _logs("/aws/sagemaker/NotebookInstances")),
    Resource("processing job log group", _logs("/aws/sagemaker/ProcessingJobs")),
    Resource("transform job log group", _logs("/aws/sagemaker/TransformJobs")),
    # SageMaker names monitoring jobs itself, without the project: no pattern can tell one
    # project's monitoring job log streams from another's.
    *(
        Resource(
            "monitoring job log stream",
            _logs("/aws/sagemaker/ProcessingJobs", f"{prefix}-202501020300-0a1b2c3d/algo-1-1"),
        )
        for prefix in ("model-monitoring", "model-quality-monitoring", "groundtruth-merge")
    ),
]


def _stack_resources(stack: Stack) -> Iterator[Resource]:
    """The ARNs of what the stack itself creates (and of the notebook's log streams)."""
    context = stack.context
    yield Resource(
        "stack", f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{context.stack_name}/0a1b2c3d"
    )
    for logical_id, resource in render(stack.template, context.parameters)["Resources"].items():
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
        elif kind == "AWS::CloudWatch::Alarm":
            alarm = resolve(resource["Properties"]["AlarmName"], context)
            yield Resource(logical_id, f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm}")
        elif kind == "AWS::CodeCommit::Repository":
            yield Resource(logical_id, f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{name}")
        elif kind == "AWS::SageMaker::ModelPackageGroup":
            group = resolve(resource["Properties"]["ModelPackageGroupName"], context)
            yield Resource(logical_id, _sagemaker("model-package-group", group))
            yield Resource("model-package", _sagemaker("model-package", f"{group}/3"))
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
        for r in render(stack.template, stack.context.parameters)["Resources"].values()
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

    prod_monitoring = load_module("prod_monitoring")
    batch_scoring = load_module("batch_scoring")

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
        batch = batch_scoring.transform_job_name(project, NOW, "0a1b2c3d-event-id")
        found += [
            Resource("transform-job", _sagemaker("transform-job", batch)),
            Resource(
                "transform job log stream",
                _logs("/aws/sagemaker/TransformJobs", f"{batch}/i-0123456789abcdef0-1735787045"),
            ),
        ]
        data_bucket = stacks(project)["pipeline"].context.ref("DataBucket")
        found += [
            Resource("batch input", f"arn:aws:s3:::{data_bucket}/batch/input/2025/records.csv"),
            Resource(
                "batch output", f"arn:aws:s3:::{data_bucket}/batch/output/2025/records.csv.out"
            ),
        ]
        for env in deploy_environments(project):
            endpoint = codepipeline_job.sagemaker_name(project, env)
            version = deploy_model.version_name(project, env, NOW)
            group = f"/aws/sagemaker/Endpoints/{endpoint}"
            hour = NOW.strftime("%Y/%m/%d/%H")
            found += [
                Resource(
                    "capture object",
                    f"arn:aws:s3:::{data_bucket}/capture/{endpoint}/AllTraffic/{hour}/"
                    "04-05-000-0a1b2c3d.jsonl",
                ),
                Resource(
                    "ground truth object",
                    f"arn:aws:s3:::{data_bucket}/ground-truth/{endpoint}/{hour}/0a1b2c3d.jsonl",
                ),
                Resource("endpoint", _sagemaker("endpoint", endpoint)),
                Resource("endpoint-config", _sagemaker("endpoint-config", version)),
                Resource("model", _sagemaker("model", version)),
                Resource("endpoint log group", _logs(group)),
                Resource("endpoint log stream", _logs(group, "AllTraffic/i-0123456789abcdef0")),
            ]
        prod = codepipeline_job.sagemaker_name(project, prod_monitoring.MONITORED_ENV)
        for monitor in prod_monitoring.MONITORS:
            schedule = monitor.schedule(prod)
            found += [
                Resource("monitoring-schedule", _sagemaker("monitoring-schedule", schedule)),
                Resource(
                    "job definition",
                    _sagemaker(f"{monitor.suffix}-job-definition", monitor.definition(prod, 3)),
                ),
                Resource(
                    "monitoring report",
                    f"arn:aws:s3:::{data_bucket}/monitoring/{prod}/{schedule}/"
                    f"{NOW:%Y/%m/%d/%H}/constraint_violations.json",
                ),
            ]
        return found

    return resources


# --- statements, as IAM evaluates them ------------------------------------------------------------


def scoped_statements() -> Iterator[tuple[str, dict[str, Any]]]:
    """(role, statement) of both templates, resolved for PROJECT, except those on `*` (actions
    without resource-level permissions; test_template_security pins which) and the account-wide
    role."""
    for stack in stacks(PROJECT).values():
        for logical_id, statement in identity_statements(
            render(stack.template, stack.context.parameters)
        ):
            resolved = resolve(statement, stack.context)
            if resolved["Resource"] != "*" and logical_id not in ACCOUNT_WIDE_ROLES:
                yield logical_id, resolved


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


# The calls made on this project's names with roles the Lambda tests do not drive (SageMaker's
# own, and the notebook's): (role, action, kind of resource). What the Lambdas call is recorded
# while their tests run and checked by iam_recorder.
CALLS = [
    ("SageMakerExecutionRole", "logs:CreateLogGroup", "training job log group"),
    ("SageMakerExecutionRole", "logs:DescribeLogStreams", "training job log group"),
    ("SageMakerExecutionRole", "logs:CreateLogStream", "training job log stream"),
    ("SageMakerExecutionRole", "logs:PutLogEvents", "training job log stream"),
    ("SageMakerExecutionRole", "logs:CreateLogGroup", "endpoint log group"),
    ("SageMakerExecutionRole", "logs:CreateLogStream", "endpoint log stream"),
    ("SageMakerExecutionRole", "logs:PutLogEvents", "endpoint log stream"),
    # Batch transform jobs run as their model, with the execution role.
    ("SageMakerExecutionRole", "logs:CreateLogGroup", "transform job log group"),
    ("SageMakerExecutionRole", "logs:CreateLogStream", "transform job log stream"),
    ("SageMakerExecutionRole", "logs:PutLogEvents", "transform job log stream"),
    ("SageMakerExecutionRole", "s3:GetObject", "batch input"),
    ("SageMakerExecutionRole", "s3:PutObject", "batch output"),
    ("SageMakerExecutionRole", "s3:AbortMultipartUpload", "batch output"),
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
    ("NotebookRole", "sagemaker:DescribeModelPackage", "model-package"),
    ("NotebookRole", "sagemaker:UpdateModelPackage", "model-package"),
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
