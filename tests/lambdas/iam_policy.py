"""Both templates resolved offline for a project, and their IAM statements evaluated as IAM
does: the model the IAM tests (test_iam_scope, iam_recorder) check calls and ARNs against."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from localcloud.cfn import StackContext, TemplateError, resolve
from tests.templates.conftest import as_list, iam_matches, load_template, parameter_defaults

ACCOUNT = "123456789012"
REGION = "us-east-1"
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


@dataclass(frozen=True)
class Resource:
    """An ARN as AWS authorizes a call on it, what it is, and its tags."""

    kind: str
    arn: str
    tags: Mapping[str, str] = field(default_factory=dict)
    # The request's condition keys IAM compares (`s3:prefix` of a listing); a key a statement
    # tests that the request does not carry fails the test, as in IAM. Without a request (the
    # scope tests, which look at resources alone), request conditions are taken to hold.
    request: Mapping[str, str] | None = None


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


REQUEST_KEYS = frozenset({"s3:prefix"})  # the request keys evaluated (with a request)


def _conditions_hold(
    condition: Mapping[str, Any], tags: Mapping[str, str], request: Mapping[str, str] | None
) -> bool:
    """Whether the statement's `aws:ResourceTag` conditions hold, and its REQUEST_KEYS ones for
    a request; the other keys (PassedToService, namespace) are taken to hold."""
    for operator, tests in condition.items():
        for key, wanted in tests.items():
            if key.startswith("aws:ResourceTag/"):
                assert operator == "StringEquals", f"{operator} {key}: teach this test about it"
                if tags.get(key.removeprefix("aws:ResourceTag/")) not in as_list(wanted):
                    return False
            elif key in REQUEST_KEYS and request is not None:
                assert operator in ("StringEquals", "StringLike"), f"{operator} {key}: teach me"
                value = request.get(key)
                like = operator == "StringLike"
                if value is None or not any(
                    iam_matches(w, value) if like else w == value for w in as_list(wanted)
                ):
                    return False
    return True


def reaches(statement: Mapping[str, Any], pattern: str, resource: Resource) -> bool:
    """Whether one Resource pattern of an Allow statement lets its actions act on the resource."""
    return (
        statement["Effect"] == "Allow"
        and iam_matches(pattern, resource.arn)
        and _conditions_hold(statement.get("Condition", {}), resource.tags, resource.request)
    )


def allows(statement: Mapping[str, Any], action: str, resource: Resource) -> bool:
    """Whether the statement allows the action on the resource."""
    return any(
        iam_matches(a, action, ignore_case=True) for a in as_list(statement["Action"])
    ) and any(reaches(statement, p, resource) for p in as_list(statement["Resource"]))
