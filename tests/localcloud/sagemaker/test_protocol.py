"""The protocol against botocore's model: request members in, answer members out.

No request member is accepted and ignored: each is implemented or refused by name (the table in
`localcloud.sagemaker.members`, checked against botocore's input shapes; refusals through
boto3). Every Describe* and List* answer has what botocore's output shape says the service
returns: each required member (at any depth, inside the structures present), and the optional
members real SageMaker shows for such a resource even when the request left them unset (SDKs
read them with `[...]`, e.g. `Estimator.attach` reads `OutputDataConfig.KmsKeyId`).
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
        {"InputDataConfig": [{"ChannelName": "train", "DataSource": {}}]},
        "Channel train has no DataSource.S3DataSource: the local SageMaker reads every channel "
        "from an S3 prefix",
    ),
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
    config = cloud.sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    rolling = {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
            "WaitIntervalInSeconds": 0,
        }
    }
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.update_endpoint(
            EndpointName=endpoint, EndpointConfigName=config, DeploymentConfig=rolling
        )
    assert error_of(excinfo)[1].startswith(
        "The local SageMaker does not support DeploymentConfig.RollingUpdatePolicy="
    )
    assert error_of(excinfo)[1].endswith(
        "on UpdateEndpoint: the local SageMaker implements BlueGreenUpdatePolicy only"
    )
    assert cloud.sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"


# Optional members AWS shows for a bring-your-own-container job, model, config and endpoint.
ALWAYS_SHOWN = {
    "DescribeTrainingJob": [
        "HyperParameters",
        "AlgorithmSpecification.TrainingInputMode",
        "AlgorithmSpecification.EnableSageMakerMetricsTimeSeries",
        "RoleArn",
        "OutputDataConfig.KmsKeyId",
        "ResourceConfig.InstanceType",
        "ResourceConfig.InstanceCount",
        "ResourceConfig.VolumeSizeInGB",
        "StoppingCondition.MaxRuntimeInSeconds",
        "InputDataConfig.CompressionType",
        "InputDataConfig.RecordWrapperType",
        "TrainingStartTime",
        "TrainingEndTime",
        "LastModifiedTime",
        "SecondaryStatusTransitions",
        "EnableNetworkIsolation",
        "EnableInterContainerTrafficEncryption",
        "EnableManagedSpotTraining",
        "TrainingTimeInSeconds",
        "BillableTimeInSeconds",
        "ProfilingStatus",
    ],
    "DescribeModel": [
        "PrimaryContainer.Image",
        "PrimaryContainer.Mode",
        "PrimaryContainer.ModelDataUrl",
        "PrimaryContainer.Environment",
        "ExecutionRoleArn",
        "EnableNetworkIsolation",
    ],
    "DescribeEndpointConfig": [
        "ProductionVariants.ModelName",
        "ProductionVariants.InitialInstanceCount",
        "ProductionVariants.InstanceType",
        "ProductionVariants.InitialVariantWeight",
        "EnableNetworkIsolation",
    ],
    "DescribeEndpoint": [
        "EndpointConfigName",
        "ProductionVariants.DeployedImages",
        "ProductionVariants.CurrentWeight",
        "ProductionVariants.DesiredWeight",
        "ProductionVariants.CurrentInstanceCount",
        "ProductionVariants.DesiredInstanceCount",
    ],
}


def missing_required(shape: Any, value: Any, path: str = "") -> list[str]:
    """Paths of required members absent from `value`, walking every structure present."""
    if shape.type_name == "list":
        return [
            gap
            for index, item in enumerate(value)
            for gap in missing_required(shape.member, item, f"{path}[{index}]")
        ]
    if shape.type_name == "map":
        return [
            gap
            for key, item in value.items()
            for gap in missing_required(shape.value, item, f"{path}.{key}")
        ]
    if shape.type_name != "structure":
        return []
    gaps = [f"{path}.{m}".lstrip(".") for m in shape.required_members if m not in value]
    for member, item in value.items():
        if member != "ResponseMetadata":
            gaps += missing_required(shape.members[member], item, f"{path}.{member}")
    return gaps


def missing_paths(answer: dict[str, Any], paths: list[str]) -> list[str]:
    """The dotted paths (lists: every item) absent from the answer."""
    gaps = []
    for path in paths:
        values = [answer]
        for part in path.split("."):
            values = [
                item for value in values for item in (value if isinstance(value, list) else [value])
            ]
            if any(part not in value for value in values):
                gaps.append(path)
                break
            values = [value[part] for value in values]
    return gaps


@pytest.fixture(scope="module")
def answers(cloud: Cloud, trained_job: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """Every Describe* and List* answer on the shared job, model, config and endpoint."""
    sagemaker = cloud.sagemaker
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    model = config["ProductionVariants"][0]["ModelName"]
    return {
        "DescribeTrainingJob": sagemaker.describe_training_job(
            TrainingJobName=trained_job["TrainingJobName"]
        ),
        "DescribeModel": sagemaker.describe_model(ModelName=model),
        "DescribeEndpointConfig": config,
        "DescribeEndpoint": described,
        "ListTrainingJobs": sagemaker.list_training_jobs(),
        "ListModels": sagemaker.list_models(),
        "ListEndpointConfigs": sagemaker.list_endpoint_configs(),
        "ListEndpoints": sagemaker.list_endpoints(),
        "ListTags": sagemaker.list_tags(ResourceArn=described["EndpointArn"]),
    }


OPERATIONS = [
    "DescribeTrainingJob",
    "DescribeModel",
    "DescribeEndpointConfig",
    "DescribeEndpoint",
    "ListTrainingJobs",
    "ListModels",
    "ListEndpointConfigs",
    "ListEndpoints",
    "ListTags",
]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_answer_has_every_required_member(
    cloud: Cloud, answers: dict[str, Any], operation: str
) -> None:
    output = cloud.sagemaker.meta.service_model.operation_model(operation).output_shape
    assert missing_required(output, answers[operation]) == []
    assert missing_paths(answers[operation], ALWAYS_SHOWN.get(operation, [])) == []


def test_every_list_names_the_shared_resources(answers: dict[str, Any]) -> None:
    for operation, key in [
        ("ListTrainingJobs", "TrainingJobSummaries"),
        ("ListModels", "Models"),
        ("ListEndpointConfigs", "EndpointConfigs"),
        ("ListEndpoints", "Endpoints"),
    ]:
        assert answers[operation][key], operation
