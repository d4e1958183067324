"""No request member is accepted and ignored: each is implemented, or refused by name.

The table of implemented members (`localcloud.sagemaker.members`) is checked against botocore's
input shapes, and refusals are checked through boto3.
"""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from localcloud.core.json_protocol import actions_of
from localcloud.sagemaker.members import MEMBERS, RUNTIME_MEMBERS, Table
from localcloud.sagemaker.responses import SageMakerResponses
from tests.localcloud.sagemaker.conftest import Cloud, error_of, unique

SESSION = botocore.session.get_session()


def test_every_served_action_has_a_table() -> None:
    served = set(actions_of(SageMakerResponses(None)))  # type: ignore[arg-type]
    assert served == set(MEMBERS)


def _paths_missing_from_shape(table: Table, shape: Any, path: str) -> list[str]:
    while shape.type_name == "list":
        shape = shape.member
    missing = []
    for member, rule in table.items():
        where = f"{path}.{member}" if path else member
        if member not in shape.members:
            missing.append(where)
        elif isinstance(rule, dict):
            missing += _paths_missing_from_shape(rule, shape.members[member], where)
    return missing


TABLES = [("sagemaker", name, table) for name, table in MEMBERS.items()] + [
    ("sagemaker-runtime", name, table) for name, table in RUNTIME_MEMBERS.items()
]


@pytest.mark.parametrize(("service", "operation", "table"), TABLES)
def test_every_implemented_member_is_one_of_the_operations(
    service: str, operation: str, table: Table
) -> None:
    """A misspelt member in the table would refuse what clients send; none is."""
    input_shape = SESSION.get_service_model(service).operation_model(operation).input_shape
    assert _paths_missing_from_shape(table, input_shape, "") == []
    # and a request with only the required members is never refused for them
    assert set(input_shape.required_members) <= set(table)


REFUSED = [
    (
        "create_training_job",
        {"VpcConfig": {"SecurityGroupIds": ["sg-12345678"], "Subnets": ["subnet-12345678"]}},
        "The local SageMaker does not support VpcConfig on CreateTrainingJob",
    ),
    (
        "create_training_job",
        {"CheckpointConfig": {"S3Uri": "s3://abalone-data/checkpoints"}},
        "The local SageMaker does not support CheckpointConfig on CreateTrainingJob",
    ),
    (
        "create_training_job",
        {
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 2,
                "VolumeSizeInGB": 5,
            }
        },
        "The local SageMaker does not support ResourceConfig.InstanceCount=2 on "
        "CreateTrainingJob: a training job runs on one local host (algo-1)",
    ),
]


@pytest.mark.parametrize(("action", "override", "message"), REFUSED)
def test_training_members_it_cannot_honour_are_refused(
    cloud: Cloud, action: str, override: dict[str, Any], message: str
) -> None:
    request = cloud.training_job_request(unique("refused"), **override)
    with pytest.raises(ClientError) as excinfo:
        getattr(cloud.sagemaker, action)(**request)
    assert error_of(excinfo) == ("ValidationException", message)
    names = [
        j["TrainingJobName"] for j in cloud.sagemaker.list_training_jobs()["TrainingJobSummaries"]
    ]
    assert request["TrainingJobName"] not in names


def test_hosting_members_it_cannot_honour_are_refused(
    cloud: Cloud, model_name: str, endpoint: str
) -> None:
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.create_model(
            ModelName=unique("isolated"),
            PrimaryContainer={"Image": "x/y:z"},
            EnableNetworkIsolation=True,
        )
    assert error_of(excinfo) == (
        "ValidationException",
        "The local SageMaker does not support EnableNetworkIsolation=True on CreateModel: "
        "the container runs as a host process, not network-isolated",
    )
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.create_endpoint_config(
            EndpointConfigName=unique("two"),
            ProductionVariants=[
                {"VariantName": "AllTraffic", "ModelName": model_name, "InitialInstanceCount": 2}
            ],
        )
    assert error_of(excinfo)[1].startswith(
        "The local SageMaker does not support ProductionVariants[0].InitialInstanceCount=2 on "
        "CreateEndpointConfig"
    )
    config = cloud.sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.update_endpoint(
            EndpointName=endpoint,
            EndpointConfigName=config,
            DeploymentConfig={"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "a"}]}},
        )
    assert error_of(excinfo) == (
        "ValidationException",
        "The local SageMaker does not support DeploymentConfig on UpdateEndpoint",
    )
    assert cloud.sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"
