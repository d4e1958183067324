"""Create the two stacks in moto server the way a console user would, and read them back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from localcloud import cfn_models
from localcloud.cfn import StackContext, TemplateError, load_template, with_defaults
from localcloud.constants import REPO_ROOT
from localcloud.functions import FunctionSpec, pipeline_functions
from pipeline_data import SPLITS, split_key, upload_split_bodies

PREP_TEMPLATE = REPO_ROOT / "templates" / "01-prep.yml"
PIPELINE_TEMPLATE = REPO_ROOT / "templates" / "02-pipeline.yml"


class StackError(RuntimeError):
    """A stack could not be created; the message carries CloudFormation's reason."""


@dataclass(frozen=True)
class Stack:
    """A created stack: its template, resolved context and outputs."""

    name: str
    template: dict[str, Any]
    context: StackContext
    outputs: dict[str, str]

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """The template's resources of one type, by logical id."""
        return {
            logical_id: resource
            for logical_id, resource in self.template.get("Resources", {}).items()
            if resource.get("Type") == resource_type
        }


def create_stack(
    clients: Any, name: str, template_path: Path, parameters: Mapping[str, str]
) -> Stack:
    """Create a stack and wait for it; a failure names the resource and its reason.

    moto runs in this process: its CloudFormation gets the local models first, so the stack
    holds every resource its template declares (`localcloud.cfn_models`).
    """
    cfn_models.install()
    cfn = clients.client("cloudformation")
    cfn.create_stack(
        StackName=name,
        TemplateBody=template_path.read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    if status != "CREATE_COMPLETE":
        events = cfn.describe_stack_events(StackName=name)["StackEvents"]
        reasons = [
            f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
            for e in events
            if e["ResourceStatus"].endswith("FAILED")
        ]
        raise StackError(f"stack {name} is {status}: {'; '.join(reasons) or 'no reason given'}")
    return read_stack(clients, name, template_path)


def read_stack(clients: Any, name: str, template_path: Path) -> Stack:
    """Read a created stack's parameters, resources, exports and outputs from moto server."""
    cfn = clients.client("cloudformation")
    description = cfn.describe_stacks(StackName=name)["Stacks"][0]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in description.get("Parameters", [])}
    physical_ids: dict[str, str] = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name):
        for summary in page["StackResourceSummaries"]:
            physical_ids[summary["LogicalResourceId"]] = summary.get("PhysicalResourceId", "")
    # moto lists the export of an output it could not compute with no Value: leave those out.
    exports = {e["Name"]: e["Value"] for e in cfn.list_exports().get("Exports", []) if "Value" in e}
    template = load_template(template_path)
    region = clients.region_name
    account_id = clients.client("sts").get_caller_identity()["Account"]
    resource_types = {k: v.get("Type", "") for k, v in template.get("Resources", {}).items()}
    context = StackContext(
        stack_name=name,
        region=region,
        account_id=account_id,
        parameters=with_defaults(template, parameters),
        physical_ids=physical_ids,
        exports=exports,
        conditions=template.get("Conditions", {}),
        get_att=_AttributeReader(clients, region, account_id, physical_ids, resource_types),
    )
    outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
    return Stack(name=name, template=template, context=context, outputs=outputs)


@dataclass(frozen=True)
class _AttributeReader:
    """`Fn::GetAtt` for the resource types our templates read attributes of."""

    clients: Any
    region: str
    account_id: str
    physical_ids: Mapping[str, str]
    resource_types: Mapping[str, str]

    def __call__(self, logical_id: str, attribute: str) -> str:
        physical = self.physical_ids.get(logical_id)
        resource_type = self.resource_types.get(logical_id)
        if physical is None or resource_type is None:
            raise TemplateError(f"Fn::GetAtt of unknown resource {logical_id}")
        prefix = f"{self.region}:{self.account_id}"
        known = {
            ("AWS::Lambda::Function", "Arn"): lambda: (
                f"arn:aws:lambda:{prefix}:function:{physical}"
            ),
            ("AWS::S3::Bucket", "Arn"): lambda: f"arn:aws:s3:::{physical}",
            ("AWS::SNS::Topic", "TopicArn"): lambda: physical,
            ("AWS::SNS::Topic", "TopicName"): lambda: physical.rsplit(":", 1)[-1],
            ("AWS::ECR::Repository", "Arn"): lambda: f"arn:aws:ecr:{prefix}:repository/{physical}",
            ("AWS::ECR::Repository", "RepositoryUri"): lambda: (
                f"{self.account_id}.dkr.ecr.{self.region}.amazonaws.com/{physical}"
            ),
            ("AWS::Logs::LogGroup", "Arn"): lambda: f"arn:aws:logs:{prefix}:log-group:{physical}:*",
            ("AWS::IAM::Role", "Arn"): lambda: self.clients.client("iam").get_role(
                RoleName=physical
            )["Role"]["Arn"],
        }
        if (resource_type, attribute) not in known:
            raise TemplateError(
                f"Fn::GetAtt {logical_id}.{attribute} ({resource_type}) unsupported"
            )
        return known[(resource_type, attribute)]()


@cache
def lambda_functions() -> dict[str, FunctionSpec]:
    """The pipeline template's Lambda functions, by folder (read once)."""
    return pipeline_functions(load_template(PIPELINE_TEMPLATE))


def upload_lambda_zips(
    clients: Any, bucket: str, dist: Path, parameters: Mapping[str, str]
) -> None:
    """Put each packaged zip where the pipeline stack's zip key parameters say it is."""
    functions = lambda_functions().values()
    missing = [f.folder for f in functions if not (dist / f"{f.folder}.zip").is_file()]
    if missing:
        raise StackError(
            f"no Lambda zips for {', '.join(missing)} in {dist}: run `make package` first"
        )
    s3 = clients.client("s3")
    for function in functions:
        key = parameters.get(function.zip_key_parameter, function.default_zip_key)
        s3.put_object(Bucket=bucket, Key=key, Body=(dist / f"{function.folder}.zip").read_bytes())


def upload_training_data(clients: Any, bucket: str, splits_dir: Path) -> dict[str, str]:
    """Upload the three split files prepare_data.py wrote, and the trigger when they changed."""
    bodies = {split: (splits_dir / split_key(split)).read_bytes() for split in SPLITS}
    return upload_split_bodies(clients.client("s3"), bucket, bodies)[0]
