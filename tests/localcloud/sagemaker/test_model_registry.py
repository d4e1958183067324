"""The Model Registry through boto3: groups, versions, approvals, models from Approved versions,
the state-change events on the bus, and the registry kept across a restart."""

from __future__ import annotations

import csv
import io
import json
import queue
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud.constants import ACCOUNT_ID, REGION
from localcloud.events import EventBus, Rule, Target, TargetServices
from localcloud.sagemaker import start_server
from tests.localcloud.sagemaker.conftest import (
    IMAGE_URI,
    NO_RETRIES,
    ROLE_ARN,
    Cloud,
    container_processes,
    error_of,
    start_endpoint,
    unique,
)

ARN_PREFIX = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}"
DATA_URL = "s3://abalone-data/models/some/output/model.tar.gz"
APPROVAL_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:approvals"
ALL_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:all-changes"


def _spec(model_data_url: str = DATA_URL, **container: Any) -> dict[str, Any]:
    return {
        "Containers": [{"Image": IMAGE_URI, "ModelDataUrl": model_data_url, **container}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }


def _register(cloud: Cloud, group: str, **extra: Any) -> str:
    request = {"ModelPackageGroupName": group, "InferenceSpecification": _spec(), **extra}
    return cloud.sagemaker.create_model_package(**request)["ModelPackageArn"]


def _answer(response: dict[str, Any]) -> dict[str, Any]:
    """A response without its ResponseMetadata (request id, retries)."""
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


def _unchecked(cloud: Cloud) -> Any:
    """A client that sends what botocore would refuse (enums are checked client-side)."""
    return boto3.session.Session().client(
        "sagemaker",
        endpoint_url=cloud.server.url,
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def group(cloud: Cloud) -> str:
    name = unique("Abalone-Group")
    cloud.sagemaker.create_model_package_group(
        ModelPackageGroupName=name, ModelPackageGroupDescription="versions of one model"
    )
    return name


def test_groups_are_created_described_listed_and_deleted(cloud: Cloud) -> None:
    prefix = unique("reg")
    names = [f"{prefix}-b", f"{prefix}-A", f"{prefix}-c"]
    arns = [
        cloud.sagemaker.create_model_package_group(ModelPackageGroupName=name)[
            "ModelPackageGroupArn"
        ]
        for name in names
    ]
    assert arns[1] == f"{ARN_PREFIX}:model-package-group/{prefix}-a"
    described = cloud.sagemaker.describe_model_package_group(ModelPackageGroupName=names[1])
    assert described["ModelPackageGroupName"] == names[1]
    assert described["ModelPackageGroupArn"] == arns[1]
    assert described["ModelPackageGroupStatus"] == "Completed"
    assert isinstance(described["CreationTime"], datetime)
    # by its ARN too
    by_arn = cloud.sagemaker.describe_model_package_group(ModelPackageGroupName=arns[1])
    assert by_arn["ModelPackageGroupName"] == names[1]

    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.create_model_package_group(ModelPackageGroupName=names[0])
    assert error_of(excinfo) == (
        "ValidationException",
        f"Model Package Group already exists: {arns[0]}",
    )

    def listed(**params: Any) -> list[str]:
        answer = cloud.sagemaker.list_model_package_groups(NameContains=prefix, **params)
        return [g["ModelPackageGroupName"] for g in answer["ModelPackageGroupSummaryList"]]

    assert listed() == names  # CreationTime, Ascending: AWS's defaults
    assert listed(SortBy="Name", SortOrder="Descending") == sorted(names, reverse=True)
    first = cloud.sagemaker.list_model_package_groups(NameContains=prefix, MaxResults=2)
    rest = cloud.sagemaker.list_model_package_groups(
        NameContains=prefix, MaxResults=2, NextToken=first["NextToken"]
    )
    assert [g["ModelPackageGroupName"] for g in first["ModelPackageGroupSummaryList"]] == names[:2]
    assert [g["ModelPackageGroupName"] for g in rest["ModelPackageGroupSummaryList"]] == names[2:]
    assert "NextToken" not in rest

    cloud.sagemaker.delete_model_package_group(ModelPackageGroupName=names[0])
    assert listed() == names[1:]
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.describe_model_package_group(ModelPackageGroupName=names[0])
    assert error_of(excinfo) == (
        "ValidationException",
        f"ModelPackageGroup {names[0]} does not exist.",
    )


def test_versions_count_up_per_group_and_are_never_reused(cloud: Cloud, group: str) -> None:
    group_arn = cloud.sagemaker.describe_model_package_group(ModelPackageGroupName=group)[
        "ModelPackageGroupArn"
    ]
    first = _register(cloud, group)
    second = _register(cloud, group_arn)  # the group by its ARN
    assert first == f"{ARN_PREFIX}:model-package/{group.lower()}/1"
    assert second == f"{ARN_PREFIX}:model-package/{group.lower()}/2"
    cloud.sagemaker.delete_model_package(ModelPackageName=second)
    third = _register(cloud, group)
    assert third.endswith(f"/{group.lower()}/3")
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.describe_model_package(ModelPackageName=second)
    assert error_of(excinfo) == ("ValidationException", f"ModelPackage {second} does not exist.")

    # a group with versions is not deleted; an empty one is
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.delete_model_package_group(ModelPackageGroupName=group)
    code, message = error_of(excinfo)
    assert code == "ConflictException"
    assert "still has model package versions 1, 3" in message
    for arn in (first, third):
        cloud.sagemaker.delete_model_package(ModelPackageName=arn)
    cloud.sagemaker.delete_model_package_group(ModelPackageGroupName=group)


def test_a_version_keeps_what_it_was_registered_with(cloud: Cloud, group: str) -> None:
    metrics = {
        "ModelQuality": {
            "Statistics": {"ContentType": "application/json", "S3Uri": "s3://b/stats.json"},
            "Constraints": {"ContentType": "application/json", "S3Uri": "s3://b/cons.json"},
        },
        "Explainability": {"Report": {"ContentType": "application/json", "S3Uri": "s3://b/e"}},
    }
    baselines = {"ModelDataQuality": metrics["ModelQuality"]}
    metadata = {"CommitId": "abc123", "GeneratedBy": "arn:aws:codepipeline:x/execution/1"}
    arn = _register(
        cloud,
        group,
        ModelPackageDescription="gate passed",
        ModelMetrics=metrics,
        DriftCheckBaselines=baselines,
        MetadataProperties=metadata,
        CustomerMetadataProperties={"mse": "4.2"},
        Tags=[{"Key": "project", "Value": "abalone"}],
    )
    described = cloud.sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["ModelPackageArn"] == arn
    assert described["ModelPackageName"] == group
    assert described["ModelPackageGroupName"] == group
    assert described["ModelPackageVersion"] == 1
    assert described["ModelPackageStatus"] == "Completed"
    assert described["ModelPackageStatusDetails"] == {
        "ValidationStatuses": [],
        "ImageScanStatuses": [],
    }
    assert described["ModelApprovalStatus"] == "PendingManualApproval"  # AWS's default
    assert described["CertifyForMarketplace"] is False
    assert described["InferenceSpecification"] == _spec()
    assert described["ModelMetrics"] == metrics
    assert described["DriftCheckBaselines"] == baselines
    assert described["MetadataProperties"] == metadata
    assert described["CustomerMetadataProperties"] == {"mse": "4.2"}
    assert described["ModelPackageDescription"] == "gate passed"
    assert described["LastModifiedTime"] == described["CreationTime"]
    assert cloud.sagemaker.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "project", "Value": "abalone"}
    ]
    # `group/version` names the version as its ARN does
    by_name = cloud.sagemaker.describe_model_package(ModelPackageName=f"{group}/1")
    assert _answer(by_name) == _answer(described)


def test_a_client_token_registers_one_version_only(cloud: Cloud, group: str) -> None:
    token = "3f1c2a4e-0d7b-5a9e-8c21-6b0f4d1e2a33"
    first = _register(cloud, group, ClientToken=token)
    assert _register(cloud, group, ClientToken=token) == first
    listed = cloud.sagemaker.list_model_packages(ModelPackageGroupName=group)
    assert [p["ModelPackageArn"] for p in listed["ModelPackageSummaryList"]] == [first]


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        (
            {"ModelPackageGroupName": "no-such-group"},
            "ValidationException",
            "Model Package Group does not exist.",
        ),
        (
            {"ModelApprovalStatus": "Maybe"},
            "ValidationException",
            "1 validation error detected: Value 'Maybe' at 'modelApprovalStatus' failed to "
            "satisfy constraint: Member must satisfy enum value set: "
            "[Approved, Rejected, PendingManualApproval]",
        ),
        (
            {"ModelPackageDescription": "x" * 1025},
            "ValidationException",
            "at 'modelPackageDescription' failed to satisfy constraint: Member must have "
            "length less than or equal to 1024",
        ),
        (
            {"InferenceSpecification": {"SupportedContentTypes": ["text/csv"]}},
            "ValidationException",
            "Member must not be null",
        ),
        (
            {"ModelPackageName": "unversioned"},
            "ValidationException",
            "The local SageMaker does not support ModelPackageName on CreateModelPackage",
        ),
        (
            {"ModelCard": {"ModelCardContent": "{}", "ModelCardStatus": "Draft"}},
            "ValidationException",
            "The local SageMaker does not support ModelCard on CreateModelPackage",
        ),
    ],
)
def test_a_bad_registration_is_refused_with_aws_error(
    cloud: Cloud, group: str, change: dict[str, Any], code: str, message: str
) -> None:
    request = {"ModelPackageGroupName": group, "InferenceSpecification": _spec(), **change}
    with pytest.raises(ClientError) as excinfo:
        _unchecked(cloud).create_model_package(**request)
    assert error_of(excinfo)[0] == code
    assert message in error_of(excinfo)[1]
    listed = cloud.sagemaker.list_model_packages(ModelPackageGroupName=group)
    assert listed["ModelPackageSummaryList"] == []


def test_list_model_packages_filters_sorts_and_pages(cloud: Cloud, group: str) -> None:
    other = unique("other-group")
    cloud.sagemaker.create_model_package_group(ModelPackageGroupName=other)
    before = datetime.now(UTC) - timedelta(seconds=1)
    arns = [_register(cloud, group) for _ in range(3)]
    _register(cloud, other)
    cloud.sagemaker.update_model_package(ModelPackageArn=arns[1], ModelApprovalStatus="Approved")

    def listed(**params: Any) -> list[str]:
        answer = cloud.sagemaker.list_model_packages(ModelPackageGroupName=group, **params)
        return [p["ModelPackageArn"] for p in answer["ModelPackageSummaryList"]]

    assert listed() == arns  # Ascending is the default
    assert listed(SortBy="CreationTime", SortOrder="Descending") == arns[::-1]
    assert listed(ModelApprovalStatus="Approved") == [arns[1]]
    assert listed(ModelApprovalStatus="Rejected") == []
    assert listed(CreationTimeAfter=before) == arns
    assert listed(CreationTimeBefore=before) == []
    assert listed(NameContains=group[-6:]) == arns
    assert listed(NameContains="nothing-like-it") == []
    page = cloud.sagemaker.list_model_packages(ModelPackageGroupName=group, MaxResults=2)
    following = cloud.sagemaker.list_model_packages(
        ModelPackageGroupName=group, MaxResults=2, NextToken=page["NextToken"]
    )
    assert [p["ModelPackageArn"] for p in page["ModelPackageSummaryList"]] == arns[:2]
    assert [p["ModelPackageArn"] for p in following["ModelPackageSummaryList"]] == arns[2:]
    summary = page["ModelPackageSummaryList"][1]
    assert summary["ModelPackageVersion"] == 2
    assert summary["ModelPackageGroupName"] == group
    assert summary["ModelPackageStatus"] == "Completed"
    assert summary["ModelApprovalStatus"] == "Approved"
    # without a group: ModelPackageType defaults to Unversioned, and every package is versioned
    everything = cloud.sagemaker.list_model_packages(NameContains=group)
    assert everything["ModelPackageSummaryList"] == []
    versioned = cloud.sagemaker.list_model_packages(NameContains=group, ModelPackageType="Both")
    assert len(versioned["ModelPackageSummaryList"]) == 3


def test_update_records_approval_and_metadata(cloud: Cloud, group: str) -> None:
    arn = _register(cloud, group, CustomerMetadataProperties={"mse": "4.2", "keep": "yes"})
    created = cloud.sagemaker.describe_model_package(ModelPackageName=arn)
    time.sleep(0.01)
    answer = cloud.sagemaker.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus="Approved",
        ApprovalDescription="reviewed by the ML lead",
        CustomerMetadataProperties={"reviewer": "lead"},
        CustomerMetadataPropertiesToRemove=["mse"],
    )
    assert answer["ModelPackageArn"] == arn
    described = cloud.sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"] == "reviewed by the ML lead"
    assert described["CustomerMetadataProperties"] == {"keep": "yes", "reviewer": "lead"}
    assert described["LastModifiedTime"] > created["LastModifiedTime"]
    assert described["CreationTime"] == created["CreationTime"]


def test_update_refuses_unknown_statuses_and_versions(cloud: Cloud, group: str) -> None:
    arn = _register(cloud, group)
    with pytest.raises(ClientError) as excinfo:
        _unchecked(cloud).update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Ok")
    assert error_of(excinfo) == (
        "ValidationException",
        "1 validation error detected: Value 'Ok' at 'modelApprovalStatus' failed to satisfy "
        "constraint: Member must satisfy enum value set: [Approved, Rejected, "
        "PendingManualApproval]",
    )
    missing = f"{ARN_PREFIX}:model-package/{group.lower()}/9"
    other_group = f"{ARN_PREFIX}:model-package/some-other-group/1"
    for unknown in (missing, other_group):
        with pytest.raises(ClientError) as excinfo:
            cloud.sagemaker.update_model_package(
                ModelPackageArn=unknown, ModelApprovalStatus="Approved"
            )
        assert error_of(excinfo) == (
            "ValidationException",
            f"ModelPackage {unknown} does not exist.",
        )
    with pytest.raises(ClientError) as excinfo:
        _unchecked(cloud).update_model_package(ModelPackageArn=arn, ModelCard={})
    assert error_of(excinfo) == (
        "ValidationException",
        "The local SageMaker does not support ModelCard on UpdateModelPackage",
    )
    status = cloud.sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
    assert status == "PendingManualApproval"


def test_a_model_is_made_only_from_an_approved_version_and_is_served(
    cloud: Cloud, group: str, model_data_url: str, abalone_splits: Path
) -> None:
    arn = cloud.sagemaker.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification=_spec(model_data_url, Environment={"FROM_PACKAGE": "1"}),
    )["ModelPackageArn"]
    name = unique("from-registry")
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.create_model(
            ModelName=name, Containers=[{"ModelPackageName": arn}], ExecutionRoleArn=ROLE_ARN
        )
    assert error_of(excinfo) == (
        "ValidationException",
        f"Model package {arn} has ModelApprovalStatus PendingManualApproval: a versioned model "
        "package must be Approved before a model can be created from it",
    )
    cloud.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.create_model(
            ModelName=name, PrimaryContainer={"ModelPackageName": arn}, ExecutionRoleArn=ROLE_ARN
        )
    assert "has ModelApprovalStatus Rejected" in error_of(excinfo)[1]
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.create_model(
            ModelName=name,
            Containers=[{"ModelPackageName": arn, "Image": IMAGE_URI}],
            ExecutionRoleArn=ROLE_ARN,
        )
    assert "cannot also give Image" in error_of(excinfo)[1]

    cloud.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    container = {"ModelPackageName": arn, "Environment": {"MODEL_NAME": name}}
    cloud.sagemaker.create_model(ModelName=name, Containers=[container], ExecutionRoleArn=ROLE_ARN)
    described = cloud.sagemaker.describe_model(ModelName=name)
    assert described["Containers"] == [{"Mode": "SingleModel", **container}]

    endpoint, _ = start_endpoint(cloud, name)
    settled = cloud.wait_endpoint_settled(endpoint)
    try:
        assert settled["EndpointStatus"] == "InService", settled.get("FailureReason")
        # the package's image and Environment, with the model's Environment over it
        serving = container_processes(cloud.state_dir / "sagemaker" / "endpoints" / endpoint)
        assert serving
        for environment in serving.values():
            assert environment["FROM_PACKAGE"] == "1"
            assert environment["MODEL_NAME"] == name
        with (abalone_splits / "test" / "test.csv").open() as stream:
            record = next(csv.DictReader(stream))
        features = [value for key, value in record.items() if key != "rings"]
        out = io.StringIO()
        csv.writer(out).writerow(features)
        response = cloud.runtime.invoke_endpoint(
            EndpointName=endpoint, Body=out.getvalue(), ContentType="text/csv"
        )
        [prediction] = json.loads(response["Body"].read())["predictions"]
        assert 1 < prediction < 30  # rings of an abalone
    finally:
        cloud.sagemaker.delete_endpoint(EndpointName=endpoint)


@pytest.fixture
def bus(cloud: Cloud) -> Iterator[queue.Queue[tuple[str, dict[str, Any]]]]:
    """The local bus with two rules (as the pipeline template's, and one for every change)
    whose SNS targets put what they receive in the queue; connected to the local SageMaker."""
    received: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    base = {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Package State Change"]}
    rules = [
        Rule(
            name="approvals",
            arn=f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/approvals",
            enabled=True,
            targets=(Target(id="t", arn=APPROVAL_TOPIC),),
            pattern={
                **base,
                "detail": {"ModelApprovalStatus": [{"anything-but": ["PendingManualApproval"]}]},
            },
        ),
        Rule(
            name="all",
            arn=f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/all",
            enabled=True,
            targets=(Target(id="t", arn=ALL_TOPIC),),
            pattern=base,
        ),
    ]
    services = TargetServices(
        start_pipeline_execution=lambda name, trigger, event: pytest.fail("no pipeline"),
        invoke_lambda=lambda name, payload: pytest.fail("no function"),
        publish_sns=lambda topic, message: received.put((topic, json.loads(message))),
    )
    event_bus = EventBus(rules, services, account_id=ACCOUNT_ID, region=REGION)
    cloud.server.backend.set_event_sink(event_bus.put_event)
    try:
        yield received
    finally:
        cloud.server.backend.set_event_sink(None)
        event_bus.stop()


def _next(received: queue.Queue[tuple[str, dict[str, Any]]]) -> tuple[str, dict[str, Any]]:
    return received.get(timeout=10)


def test_creation_and_approval_changes_reach_the_rules_on_the_bus(
    cloud: Cloud, group: str, bus: queue.Queue[tuple[str, dict[str, Any]]]
) -> None:
    arn = _register(cloud, group, MetadataProperties={"GeneratedBy": "pipeline/execution/1"})
    topic, created = _next(bus)
    assert topic == ALL_TOPIC  # PendingManualApproval: only the rule without a filter
    assert created["source"] == "aws.sagemaker"
    assert created["detail-type"] == "SageMaker Model Package State Change"
    assert created["resources"] == [arn]
    assert created["account"] == ACCOUNT_ID and created["region"] == REGION
    detail = created["detail"]
    described = cloud.sagemaker.describe_model_package(ModelPackageName=arn)
    assert set(detail) == set(described) - {"ResponseMetadata"}
    assert detail["ModelPackageGroupName"] == group
    assert detail["ModelPackageVersion"] == 1
    assert detail["ModelApprovalStatus"] == "PendingManualApproval"
    assert detail["InferenceSpecification"] == _spec()
    assert detail["CreationTime"] == described["CreationTime"].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert datetime.strptime(detail["LastModifiedTime"], "%Y-%m-%dT%H:%M:%SZ")

    cloud.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    approved = {topic: event for topic, event in (_next(bus), _next(bus))}
    assert set(approved) == {APPROVAL_TOPIC, ALL_TOPIC}
    assert approved[APPROVAL_TOPIC]["detail"]["ModelApprovalStatus"] == "Approved"
    assert approved[APPROVAL_TOPIC]["resources"] == [arn]

    # no change of status, no event
    cloud.sagemaker.update_model_package(ModelPackageArn=arn, ApprovalDescription="noted")
    cloud.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    topic, rejected = _next(bus)
    assert rejected["detail"]["ModelApprovalStatus"] == "Rejected"
    assert rejected["detail"]["ApprovalDescription"] == "noted"
    _next(bus)
    assert bus.empty()


def test_the_registry_survives_a_restart_on_the_same_state_dir(
    cloud: Cloud, tmp_path: Path
) -> None:
    def client(server: Any) -> Any:
        return boto3.session.Session().client(
            "sagemaker", endpoint_url=server.url, config=NO_RETRIES
        )

    server = start_server(tmp_path, cloud.credentials)
    try:
        first = client(server)
        first.create_model_package_group(
            ModelPackageGroupName="kept", Tags=[{"Key": "team", "Value": "ml"}]
        )
        arns = [
            first.create_model_package(
                ModelPackageGroupName="kept",
                InferenceSpecification=_spec(),
                ClientToken=f"token-{n}",
            )["ModelPackageArn"]
            for n in range(2)
        ]
        first.update_model_package(
            ModelPackageArn=arns[0], ModelApprovalStatus="Approved", ApprovalDescription="ok"
        )
        first.delete_model_package(ModelPackageName=arns[1])
        before = first.describe_model_package(ModelPackageName=arns[0])
    finally:
        server.stop()

    server = start_server(tmp_path, cloud.credentials)
    try:
        again = client(server)
        assert _answer(again.describe_model_package(ModelPackageName=arns[0])) == _answer(before)
        group_arn = again.describe_model_package_group(ModelPackageGroupName="kept")[
            "ModelPackageGroupArn"
        ]
        assert again.list_tags(ResourceArn=group_arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
        # version 2 was deleted, and is not given again; a known token still names version 1
        third = again.create_model_package(
            ModelPackageGroupName="kept", InferenceSpecification=_spec()
        )["ModelPackageArn"]
        assert third.endswith("/kept/3")
        retried = again.create_model_package(
            ModelPackageGroupName="kept", InferenceSpecification=_spec(), ClientToken="token-0"
        )["ModelPackageArn"]
        assert retried == arns[0]
    finally:
        server.stop()
