"""Both templates create real stacks in moto server (the local cloud), as a console user would
launch them: prep, Lambda zips uploaded, then pipeline. moto silently skips resource types it
does not model; these tests pin exactly which, so none is skipped unknowingly."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from localcloud.cfn import render
from tests.moto_server import moto_server_process
from tests.templates.conftest import TEMPLATE_PATHS, design_lambdas, load_template

REGION = "us-east-1"
PROJECT = "abalone"
PREP_STACK = f"{PROJECT}-prep"
PIPELINE_STACK = f"{PROJECT}-pipeline"
# What a console user fills in; everything else keeps its default (the S3 model-code source:
# tests/deploy/test_source_stacks.py creates the stacks of every source).
PREP_PARAMETERS = {"ProjectName": PROJECT}
PIPELINE_PARAMETERS = {"PrepStackName": PREP_STACK, "ApprovalEmail": "ml-team@example.com"}

# Resource types moto 5.2.5's CloudFormation does not create. The local cloud gives moto a model
# of each (localcloud.cfn_models): they exist in moto's backends (the pipeline is served by the
# local CodePipeline service, the model package group lives in the local SageMaker, bucket
# policies are listed but not enforced).
MOTO_SKIPPED_TYPES = {
    "prep": {"AWS::CodeCommit::Repository", "AWS::S3::BucketPolicy"},
    "pipeline": {
        "AWS::S3::BucketPolicy",
        "AWS::SNS::Subscription",
        "AWS::CodeBuild::Project",
        "AWS::CodePipeline::Pipeline",
        "AWS::ApiGateway::Account",
        "AWS::ApiGateway::Stage",
        "AWS::ApiGateway::ApiKey",
        "AWS::ApiGateway::UsagePlan",
        "AWS::ApiGateway::UsagePlanKey",
        "AWS::SageMaker::ModelPackageGroup",
        "AWS::CloudWatch::Alarm",
    },
}
# Outputs whose value comes from a skipped resource: moto leaves them out (and exports the
# name with no value).
MOTO_MISSING_OUTPUTS = {"prep": set(), "pipeline": {"ApiKeyId"}}


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A moto server of its own (a separate process, so no other test's mock shares its state)."""
    with moto_server_process() as url:
        yield url


@dataclass(frozen=True)
class Created:
    """The two stacks as moto holds them."""

    client: Any
    stacks: dict[str, dict[str, Any]]  # describe_stacks entry, by template name
    resources: dict[str, list[dict[str, Any]]]  # list_stack_resources, by template name

    def session_client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.client.meta.endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


def _create(cfn: Any, name: str, template: str, parameters: dict[str, str]) -> dict[str, Any]:
    cfn.create_stack(
        StackName=name,
        TemplateBody=TEMPLATE_PATHS[template].read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    return cfn.describe_stacks(StackName=name)["Stacks"][0]


@pytest.fixture(scope="module")
def created(moto_endpoint: str) -> Created:
    """Stack 1, the Lambda zips in its bucket, then stack 2."""
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    cfn = boto3.client(
        "cloudformation", endpoint_url=moto_endpoint, region_name=REGION, **credentials
    )
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION, **credentials)
    stacks = {"prep": _create(cfn, PREP_STACK, "prep", PREP_PARAMETERS)}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks["prep"].get("Outputs", [])}
    defaults = {
        k: str(v.get("Default")) for k, v in load_template("pipeline")["Parameters"].items()
    }
    for logical_id in design_lambdas():
        key = defaults[logical_id.removesuffix("Function") + "ZipKey"]
        s3.put_object(Bucket=outputs["LambdaCodeBucketName"], Key=key, Body=_placeholder_zip())
    stacks["pipeline"] = _create(cfn, PIPELINE_STACK, "pipeline", PIPELINE_PARAMETERS)
    resources = {
        name: cfn.list_stack_resources(StackName=stack["StackName"])["StackResourceSummaries"]
        for name, stack in stacks.items()
    }
    return Created(client=cfn, stacks=stacks, resources=resources)


def _active_resources(name: str, parameters: dict[str, str]) -> dict[str, str]:
    """Logical id -> type of the resources whose Condition holds for these parameters."""
    template = load_template(name)
    values = {k: str(v.get("Default", "")) for k, v in template["Parameters"].items()}
    values.update(parameters)
    holds = {}
    for condition, spec in template.get("Conditions", {}).items():
        # The templates' conditions are all (Not) Equals of a parameter and a literal.
        negate = "Fn::Not" in spec
        ref, literal = (spec["Fn::Not"][0] if negate else spec)["Fn::Equals"]
        holds[condition] = (values[ref["Ref"]] == literal) != negate
    return {
        logical_id: resource["Type"]
        for logical_id, resource in template["Resources"].items()
        if holds.get(resource.get("Condition"), True)
    }


@pytest.mark.parametrize("name", ["prep", "pipeline"])
def test_stack_is_created_with_every_output_moto_can_resolve(created: Created, name: str) -> None:
    stack = created.stacks[name]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    parameters = PREP_PARAMETERS if name == "prep" else PIPELINE_PARAMETERS
    # The outputs whose Condition holds (those of the S3 source, the default).
    declared = render(load_template(name), parameters)["Outputs"]
    assert set(outputs) == set(declared) - MOTO_MISSING_OUTPUTS[name]
    assert all(outputs.values())
    exports = {e["Name"]: e.get("Value") for e in created.client.list_exports()["Exports"]}
    for key in declared:
        assert f"{stack['StackName']}-{key}" in exports
        assert exports[f"{stack['StackName']}-{key}"] == outputs.get(key)


def test_outputs_carry_the_contracted_values(created: Created) -> None:
    prep = {o["OutputKey"]: o["OutputValue"] for o in created.stacks["prep"]["Outputs"]}
    assert prep["ProjectName"] == PROJECT
    assert prep["SourceProvider"] == "S3"
    assert "RepositoryName" not in prep, "no CodeCommit repository for the S3 source"
    pipeline = {o["OutputKey"]: o["OutputValue"] for o in created.stacks["pipeline"]["Outputs"]}
    api_id = pipeline["ApiId"]
    for stage in ("dev", "prod"):
        assert pipeline[f"{stage.capitalize()}PredictUrl"] == (
            f"https://{api_id}.execute-api.{REGION}.amazonaws.com/{stage}/predict"
        )
    assert pipeline["PipelineName"] == f"{PROJECT}-pipeline"
    assert pipeline["EcrRepositoryUri"].endswith(f".dkr.ecr.{REGION}.amazonaws.com/{PROJECT}")
    for key in ("DataBucketName", "ModelBucketName", "ArtifactBucketName"):
        assert pipeline[key].startswith(f"{PROJECT}-")
    assert (
        pipeline["ModelCodeUploadUri"]
        == f"s3://{pipeline['DataBucketName']}/pipeline/model-code.zip"
    )
    assert pipeline["NotificationTopicArn"].endswith(f":{PROJECT}-approvals")


@pytest.mark.parametrize("name", ["prep", "pipeline"])
def test_moto_skips_exactly_the_known_resource_types(created: Created, name: str) -> None:
    parameters = PREP_PARAMETERS if name == "prep" else PIPELINE_PARAMETERS
    active = _active_resources(name, parameters)
    created_ids = {r["LogicalResourceId"] for r in created.resources[name]} - {""}
    assert created_ids <= set(active)
    skipped = {active[logical_id] for logical_id in set(active) - created_ids}
    assert skipped == MOTO_SKIPPED_TYPES[name] & set(active.values())
    created_types = {active[logical_id] for logical_id in created_ids}
    assert not created_types & skipped, "a type is either created or skipped, never both"


@pytest.mark.parametrize("name", ["prep", "pipeline"])
def test_moto_models_every_other_type_of_the_template(name: str) -> None:
    """The same list from moto's own table of CloudFormation models, all conditions included."""
    from moto.cloudformation.parsing import get_model_list

    # moto's own models only: the local cloud's may already be installed in this process.
    moto_types = {m.cloudformation_type() for m in get_model_list() if m.__module__[:5] == "moto."}
    types = {r["Type"] for r in load_template(name)["Resources"].values()}
    assert types - moto_types == MOTO_SKIPPED_TYPES[name]


@pytest.mark.parametrize("name", ["prep", "pipeline"])
def test_the_local_cloud_models_exactly_the_types_moto_skips(name: str) -> None:
    from moto.cloudformation.parsing import get_model_map

    from localcloud import cfn_models

    cfn_models.install()
    types = {r["Type"] for r in load_template(name)["Resources"].values()}
    local = {model.type_name for model in cfn_models.MODELS if model.type_name in types}
    assert types <= set(get_model_map())
    # Each skipped type gets a model; the others only where moto's model lacks a physical id.
    assert MOTO_SKIPPED_TYPES[name] <= local
    assert local - MOTO_SKIPPED_TYPES[name] <= {
        "AWS::ApiGateway::RestApi",
        "AWS::ApiGateway::Deployment",
        "AWS::ApiGateway::Method",
        "AWS::Lambda::Permission",
    }


def test_functions_are_created_from_the_uploaded_zips_as_the_template_says(
    created: Created,
) -> None:
    lambda_client = created.session_client("lambda")
    template = load_template("pipeline")
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"] for r in created.resources["pipeline"]
    }
    for logical_id in design_lambdas():
        config = lambda_client.get_function_configuration(FunctionName=physical[logical_id])
        props = template["Resources"][logical_id]["Properties"]
        assert config["FunctionName"] == physical[logical_id]
        assert config["Handler"] == props["Handler"]
        assert config["Runtime"] == props["Runtime"]
        assert config["Timeout"] == props["Timeout"]
        variables = config["Environment"]["Variables"]
        assert set(variables) == set(props["Environment"]["Variables"])
        assert all(isinstance(v, str) and v for v in variables.values())
        if "PROJECT_NAME" in variables:
            assert variables["PROJECT_NAME"] == PROJECT
    assert physical["TrainModelFunction"] == f"{PROJECT}-train-model"


def test_log_groups_exist_with_their_retention(created: Created) -> None:
    logs = created.session_client("logs")
    groups = {
        g["logGroupName"]: g.get("retentionInDays")
        for g in logs.describe_log_groups(logGroupNamePrefix="/aws/")["logGroups"]
    }
    for name in (
        f"/aws/lambda/{PROJECT}-train-model",
        f"/aws/lambda/{PROJECT}-predict-proxy",
        f"/aws/codebuild/{PROJECT}-build",
        f"/aws/apigateway/{PROJECT}-api-access",
    ):
        # moto hands back the String parameter as it got it; AWS converts it to a number.
        assert int(groups[name]) == 30


def test_api_has_the_predict_route_and_the_proxy_may_be_invoked_by_it(created: Created) -> None:
    pipeline = {o["OutputKey"]: o["OutputValue"] for o in created.stacks["pipeline"]["Outputs"]}
    apigateway = created.session_client("apigateway")
    api = apigateway.get_rest_api(restApiId=pipeline["ApiId"])
    assert api["name"] == f"{PROJECT}-api"
    paths = {r["path"]: r for r in apigateway.get_resources(restApiId=api["id"])["items"]}
    method = paths["/predict"]["resourceMethods"]["POST"]
    assert method.get("apiKeyRequired") is True
    policy = created.session_client("lambda").get_policy(FunctionName=f"{PROJECT}-predict-proxy")
    assert f":{api['id']}/*/POST/predict" in policy["Policy"]


def test_batch_scoring_rules_target_their_functions_and_the_outputs_name_the_prefixes(
    created: Created,
) -> None:
    pipeline = {o["OutputKey"]: o["OutputValue"] for o in created.stacks["pipeline"]["Outputs"]}
    bucket = pipeline["DataBucketName"]
    assert pipeline["BatchInputUri"] == f"s3://{bucket}/batch/input/"
    assert pipeline["BatchOutputUri"] == f"s3://{bucket}/batch/output/"
    events = created.session_client("events")
    targets = {
        rule["Name"]: [t["Arn"] for t in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]]
        for rule in events.list_rules()["Rules"]
    }
    function_arns = {
        f["FunctionName"]: f["FunctionArn"]
        for f in created.session_client("lambda").list_functions()["Functions"]
    }
    targeted = {arn for arns in targets.values() for arn in arns}
    for name in ("start-batch-transform", "report-batch-transform"):
        assert function_arns[f"{PROJECT}-{name}"] in targeted
