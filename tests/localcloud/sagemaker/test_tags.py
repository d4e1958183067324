"""Tags of every local SageMaker resource, through boto3 and the SageMaker Python SDK.

Tags given at Create* are stored and listed, AddTags adds and overwrites, DeleteTags removes,
deleting a resource drops its tags, and AWS's limits (50 a resource, no `aws:` keys) hold.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.localcloud.sagemaker.conftest import (
    IMAGE_URI,
    REGISTRY,
    ROLE_ARN,
    Cloud,
    error_of,
    start_endpoint,
    unique,
)

TEAM = [{"Key": "team", "Value": "abalone"}, {"Key": "stage", "Value": "dev"}]
UNKNOWN_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model/never-created"


def _tags(cloud: Cloud, arn: str) -> list[dict[str, str]]:
    return cloud.sagemaker.list_tags(ResourceArn=arn)["Tags"]


def _model(cloud: Cloud, model_data_url: str, **request: Any) -> str:
    name = unique("tagged-model")
    cloud.sagemaker.create_model(
        ModelName=name,
        PrimaryContainer={"Image": IMAGE_URI, "ModelDataUrl": model_data_url},
        ExecutionRoleArn=ROLE_ARN,
        **request,
    )
    return cloud.sagemaker.describe_model(ModelName=name)["ModelArn"]


def _many(count: int) -> list[dict[str, str]]:
    return [{"Key": f"key-{index:02d}", "Value": str(index)} for index in range(count)]


def test_tags_given_at_create_are_listed_for_every_resource(
    cloud: Cloud, model_data_url: str
) -> None:
    # GIVEN each kind of resource created with Tags
    model_arn = _model(cloud, model_data_url, Tags=TEAM)
    model = model_arn.rsplit("/", 1)[1]
    config = unique("tagged-config")
    config_arn = cloud.sagemaker.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1}
        ],
        Tags=TEAM,
    )["EndpointConfigArn"]
    endpoint = unique("tagged-endpoint")
    endpoint_arn = cloud.sagemaker.create_endpoint(
        EndpointName=endpoint, EndpointConfigName=config, Tags=TEAM
    )["EndpointArn"]
    job = unique("tagged-job")
    job_arn = cloud.sagemaker.create_training_job(
        **cloud.training_job_request(
            job,
            AlgorithmSpecification={
                "TrainingImage": f"{REGISTRY}/not-pushed:x",
                "TrainingInputMode": "File",
            },
            Tags=TEAM,
        )
    )["TrainingJobArn"]
    # THEN ListTags gives them back, in order, for each
    for arn in (model_arn, config_arn, endpoint_arn, job_arn):
        assert _tags(cloud, arn) == TEAM, arn
    cloud.wait_endpoint_settled(endpoint)
    cloud.sagemaker.delete_endpoint(EndpointName=endpoint)


def test_add_tags_adds_and_overwrites_and_delete_tags_removes(
    cloud: Cloud, model_data_url: str
) -> None:
    arn = _model(cloud, model_data_url, Tags=TEAM)
    # WHEN a tag is overwritten and another added
    added = cloud.sagemaker.add_tags(
        ResourceArn=arn, Tags=[{"Key": "stage", "Value": "prod"}, {"Key": "owner", "Value": "me"}]
    )
    # THEN AddTags answers with every tag of the resource, and ListTags agrees
    expected = [
        {"Key": "team", "Value": "abalone"},
        {"Key": "stage", "Value": "prod"},
        {"Key": "owner", "Value": "me"},
    ]
    assert added["Tags"] == expected
    assert _tags(cloud, arn) == expected
    # WHEN two keys are deleted, one of which the resource does not have
    cloud.sagemaker.delete_tags(ResourceArn=arn, TagKeys=["team", "no-such-key"])
    assert _tags(cloud, arn) == expected[1:]


def test_a_resource_holds_at_most_50_tags(cloud: Cloud, model_data_url: str) -> None:
    arn = _model(cloud, model_data_url, Tags=_many(49))
    cloud.sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "key-00", "Value": "again"}])
    cloud.sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "fiftieth", "Value": ""}])
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "fifty-first", "Value": ""}])
    assert error_of(excinfo) == (
        "ValidationException",
        "The resource would have 51 tags: a SageMaker resource can have at most 50",
    )
    # ListTags pages by MaxResults (at least 50) and NextToken
    listed = cloud.sagemaker.list_tags(ResourceArn=arn, MaxResults=50)
    assert len(listed["Tags"]) == 50 and "NextToken" not in listed
    assert listed["Tags"][0] == {"Key": "key-00", "Value": "again"}
    assert cloud.sagemaker.list_tags(ResourceArn=arn, NextToken="49")["Tags"] == [
        {"Key": "fiftieth", "Value": ""}
    ]
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.list_tags(ResourceArn=arn, NextToken="not-a-token")
    assert error_of(excinfo) == ("ValidationException", "Invalid pagination token")


@pytest.mark.parametrize("key", ["aws:cloudformation:stack-name", "AWS:owner"])
def test_tag_keys_with_the_aws_prefix_are_refused(
    cloud: Cloud, model_data_url: str, key: str
) -> None:
    arn = _model(cloud, model_data_url)
    message = (
        f"1 validation error detected: Value '{key}' at '{{member}}.1.member.key' failed to "
        "satisfy constraint: Tag keys starting with 'aws:' are reserved for AWS use"
    )
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": key, "Value": "x"}])
    assert error_of(excinfo) == ("ValidationException", message.format(member="tags"))
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.delete_tags(ResourceArn=arn, TagKeys=[key])
    assert error_of(excinfo) == ("ValidationException", message.format(member="tagKeys"))
    assert _tags(cloud, arn) == []


def test_bad_tags_at_create_create_nothing(cloud: Cloud, model_data_url: str) -> None:
    name = unique("refused-model")
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.create_model(
            ModelName=name,
            PrimaryContainer={"Image": IMAGE_URI, "ModelDataUrl": model_data_url},
            ExecutionRoleArn=ROLE_ARN,
            Tags=[{"Key": "aws:reserved", "Value": "x"}],
        )
    assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.describe_model(ModelName=name)
    assert error_of(excinfo)[1].startswith("Could not find model")


@pytest.mark.parametrize(
    ("action", "request_"),
    [
        ("list_tags", {}),
        ("add_tags", {"Tags": TEAM}),
        ("delete_tags", {"TagKeys": ["team"]}),
    ],
)
def test_an_unknown_arn_is_a_validation_error(
    cloud: Cloud, action: str, request_: dict[str, Any]
) -> None:
    with pytest.raises(ClientError) as excinfo:
        getattr(cloud.sagemaker, action)(ResourceArn=UNKNOWN_ARN, **request_)
    assert error_of(excinfo) == (
        "ValidationException",
        f'Could not find resource "{UNKNOWN_ARN}".',
    )


def test_deleting_a_resource_drops_its_tags(cloud: Cloud, model_data_url: str) -> None:
    arn = _model(cloud, model_data_url, Tags=TEAM)
    name = arn.rsplit("/", 1)[1]
    cloud.sagemaker.delete_model(ModelName=name)
    with pytest.raises(ClientError) as excinfo:
        _tags(cloud, arn)
    assert error_of(excinfo) == ("ValidationException", f'Could not find resource "{arn}".')
    # a new model of the same name starts with no tags
    cloud.create_model(name, model_data_url)
    assert _tags(cloud, arn) == []


def test_the_sdk_updates_an_endpoint_carrying_its_config_tags_over(
    cloud: Cloud, model_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Predictor.update_endpoint` reads the old config's tags with ListTags to copy them."""
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    import sagemaker  # slow to import (it reads its config files): only this test needs it

    endpoint, config = start_endpoint(cloud, model_name)
    config_arn = cloud.sagemaker.describe_endpoint_config(EndpointConfigName=config)[
        "EndpointConfigArn"
    ]
    cloud.sagemaker.add_tags(ResourceArn=config_arn, Tags=TEAM)
    assert cloud.wait_endpoint_settled(endpoint)["EndpointStatus"] == "InService"
    session = sagemaker.Session(
        boto_session=boto3.session.Session(),
        sagemaker_client=cloud.sagemaker,
        sagemaker_runtime_client=cloud.runtime,
    )
    # WHEN the SDK updates the endpoint to a fresh copy of its configuration
    sagemaker.Predictor(endpoint, sagemaker_session=session).update_endpoint(wait=False)
    # THEN the endpoint moves to the new configuration, which has the old one's tags
    described = cloud.wait_endpoint_settled(endpoint)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert described["EndpointConfigName"] != config
    new_arn = cloud.sagemaker.describe_endpoint_config(
        EndpointConfigName=described["EndpointConfigName"]
    )["EndpointConfigArn"]
    assert _tags(cloud, new_arn) == TEAM
    cloud.sagemaker.delete_endpoint(EndpointName=endpoint)
