"""Every AWS call a Lambda makes while the Lambda tests drive it, checked against its IAM role.

moto enforces no IAM, so a missing permission would show up only on AWS, as an AccessDenied on
the first request. `iam_recorder` (an autouse session fixture: tests/lambdas/conftest.py imports
it, or `pytest -p tests.lambdas.iam_recorder`) hooks every boto3 client made during the session,
keeps each call made from inside a Lambda's code (a frame of a `lambdas.<folder>.app` module,
as conftest.load_module imports them), and at the end of the session fails unless the function's
role, resolved from templates/02-pipeline.yml, allows each call's action on the resource ARN
built from its parameters.

The tests name resources their own way (`demo-data` for the stack's
`demo-data-<account>-<region>`); each name a function reads from its environment is mapped to
the value the template gives that variable. Calls made with the job's artifact credentials are
CodePipeline's, not the role's, and are left out.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
import pytest

from localcloud.cfn import render, resolve
from tests.lambdas.iam_policy import ACCOUNT, REGION, Resource, allows, stacks
from tests.templates.conftest import identity_statements

PROJECT = "demo"  # the PROJECT_NAME the Lambda tests give the functions
# IAM actions whose names are not the operation's.
ACTION_OF = {
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
}
IAM_PREFIX = {"sagemaker-runtime": "sagemaker"}
# The SageMaker parameter naming the resource an operation acts on, first match wins.
SAGEMAKER_NAMES = (
    ("TrainingJobName", "training-job"),
    ("TransformJobName", "transform-job"),
    ("EndpointName", "endpoint"),
    ("EndpointConfigName", "endpoint-config"),
    ("ModelName", "model"),
    ("MonitoringScheduleName", "monitoring-schedule"),
)
# JobDefinitionName names a different kind of resource in each monitoring type's calls.
JOB_DEFINITION_KINDS = {
    "DataQuality": "data-quality-job-definition",
    "ModelQuality": "model-quality-job-definition",
}


@dataclass(frozen=True)
class Call:
    """One AWS operation a Lambda's code made, with the names mapped to the stack's."""

    folder: str
    service: str
    operation: str
    params: dict[str, Any]

    def __str__(self) -> str:
        return f"lambdas/{self.folder}: {self.service}.{self.operation}"


@cache
def _functions() -> dict[str, tuple[str, dict[str, str]]]:
    """Lambda folder -> (its role's logical id, its environment as the stack resolves it)."""
    stack = stacks(PROJECT)["pipeline"]
    parameters = stack.context.parameters
    found = {}
    for resource in stack.template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        properties = resource["Properties"]
        zip_key = parameters[properties["Code"]["S3Key"]["Ref"]]
        folder = zip_key.removeprefix("lambdas/").removesuffix(".zip")
        role = properties["Role"]["Fn::GetAtt"][0]
        environment = resolve(properties["Environment"]["Variables"], stack.context)
        found[folder] = (role, {k: str(v) for k, v in environment.items()})
    return found


@cache
def _buckets() -> dict[str, str]:
    """The tests' bucket names (`demo-models`) -> the stack's (`demo-models-<account>-<region>`),
    for names a function reads from an artifact rather than its environment."""
    stack = stacks(PROJECT)["pipeline"]
    suffix = f"-{ACCOUNT}-{REGION}"
    names = [
        stack.context.ref(logical_id)
        for logical_id, resource in stack.template["Resources"].items()
        if resource["Type"] == "AWS::S3::Bucket"
    ]
    return {name.removesuffix(suffix): name for name in names}


def _calling_lambda() -> str | None:
    frame = sys._getframe(2)
    while frame is not None:
        package, _, folder_app = frame.f_globals.get("__name__", "").partition(".")
        folder, _, module = folder_app.partition(".")
        if package == "lambdas" and module == "app":
            return folder
        frame = frame.f_back
    return None


def _to_stack_names(value: Any, renames: list[tuple[str, str]]) -> Any:
    if isinstance(value, dict):
        return {k: _to_stack_names(v, renames) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_stack_names(v, renames) for v in value]
    if isinstance(value, str):
        for test_value, stack_value in renames:
            value = value.replace(test_value, stack_value)
    return value


def _renames(folder: str) -> list[tuple[str, str]]:
    """(the test's value, the stack's value) of each name the function reads from os.environ."""
    _, environment = _functions()[folder]
    pairs = []
    for variable, stack_value in environment.items():
        test_value = os.environ.get(variable)
        if test_value and test_value != stack_value and not test_value.replace(".", "").isdigit():
            pairs.append((test_value, stack_value))
    return sorted(pairs, key=lambda pair: -len(pair[0]))


class Recorder:
    """Collects the calls the Lambdas' clients make."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def hook(self, client: Any) -> None:
        """Record the client's calls. `before-parameter-build`, not `before-call`: a Stubber
        answers `before-call` first and stops the event there, so stubbed calls would be lost."""

        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            folder = _calling_lambda()
            if folder is None or folder not in _functions():
                return
            # Imported here: `-p` loads this module before pytest imports conftest.
            from tests.lambdas.conftest import ARTIFACT_CREDENTIALS

            if client._get_credentials().access_key == ARTIFACT_CREDENTIALS["accessKeyId"]:
                return  # the job's artifact credentials, not the function's role
            service = client.meta.service_model.service_name
            params = _to_stack_names(params, _renames(folder))
            self.calls.append(Call(folder, service, model.name, params))

        client.meta.events.register("before-parameter-build", record)


def _resource_arn(call: Call) -> str:
    params = call.params
    if call.service in ("sagemaker", "sagemaker-runtime"):
        if "ResourceArn" in params:
            return params["ResourceArn"]
        for parameter in ("ModelPackageName", "ModelPackageArn"):  # a version's ARN
            if parameter in params:
                return params[parameter]
        if call.operation == "CreateModelPackage":  # authorized on the group
            group = params["ModelPackageGroupName"].lower()
            return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/{group}"
        if "JobDefinitionName" in params:
            (kind,) = (k for t, k in JOB_DEFINITION_KINDS.items() if t in call.operation)
            return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{params['JobDefinitionName']}"
        for parameter, kind in SAGEMAKER_NAMES:
            if parameter in params:
                return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{params[parameter].lower()}"
        return "*"  # List* and the like have no resource-level permissions
    if call.service == "s3":
        bucket, key = params["Bucket"], params.get("Key")
        return f"arn:aws:s3:::{_buckets().get(bucket, bucket)}" + (f"/{key}" if key else "")
    if call.service == "sns":
        return params["TopicArn"]
    if call.service == "codepipeline":
        if "pipelineName" in params:
            return f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:{params['pipelineName']}"
        return "*"  # the job id is not a resource
    if call.service == "application-autoscaling":  # no resource-level permissions
        return "*"
    if call.service == "cloudwatch" and "AlarmName" in params:
        return _alarm_arn(params["AlarmName"])
    if call.service == "ecr":
        return f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{params['repositoryName']}"
    raise AssertionError(f"{call}: iam_recorder cannot build the ARN of a {call.service} call")


def _alarm_arn(name: str) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"


def required(call: Call) -> list[tuple[str, str]]:
    """(IAM action, resource ARN) pairs the call needs, the implicit ones included: SageMaker
    authorizes AddTags for tags given at creation, IAM PassRole for a role handed over."""
    prefix = IAM_PREFIX.get(call.service, call.service)
    action = ACTION_OF.get((call.service, call.operation), f"{prefix}:{call.operation}")
    if call.service == "cloudwatch" and "AlarmNames" in call.params:  # each alarm it reads
        return [(action, _alarm_arn(name)) for name in call.params["AlarmNames"]]
    arn = _resource_arn(call)
    needed = [(action, arn)]
    if call.service == "sagemaker" and call.params.get("Tags"):
        needed.append(("sagemaker:AddTags", arn))
    for parameter in ("RoleArn", "ExecutionRoleArn"):
        if parameter in call.params:
            needed.append(("iam:PassRole", call.params[parameter]))
    return needed


def request_keys(call: Call) -> dict[str, str]:
    """The condition keys of the call's request that statements may test (iam_policy's
    REQUEST_KEYS): a listing's `s3:prefix`, absent when it lists the whole bucket."""
    if call.service == "s3" and call.operation in ("ListObjectsV2", "ListObjects"):
        prefix = call.params.get("Prefix")
        return {} if prefix is None else {"s3:prefix": prefix}
    return {}


def denied(calls: list[Call]) -> list[str]:
    """What the calls need and their function's role does not allow, one line each."""
    stack = stacks(PROJECT)["pipeline"]
    statements: dict[str, list[dict[str, Any]]] = {}
    # The statements of the stack's own parameters (its model-code source's among them).
    for role, statement in identity_statements(render(stack.template, stack.context.parameters)):
        statements.setdefault(role, []).append(resolve(statement, stack.context))
    lines = []
    for call in calls:
        role = _functions()[call.folder][0]
        for action, arn in required(call):
            resource = Resource(call.operation, arn, request=request_keys(call))
            if not any(allows(s, action, resource) for s in statements.get(role, [])):
                lines.append(f"{call}: {role} does not allow {action} on {arn}")
    return sorted(set(lines))


@pytest.fixture(scope="session", autouse=True)
def iam_recorder() -> Iterator[Recorder]:
    """Record the Lambdas' AWS calls for the session; at its end, each must be allowed."""
    recorder = Recorder()
    original = boto3.session.Session.client

    def client(self: boto3.session.Session, *args: Any, **kwargs: Any) -> Any:
        made = original(self, *args, **kwargs)
        recorder.hook(made)
        return made

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(boto3.session.Session, "client", client)
        yield recorder
    problems = denied(recorder.calls)
    assert not problems, "IAM would deny what the Lambda tests did:\n" + "\n".join(problems)
