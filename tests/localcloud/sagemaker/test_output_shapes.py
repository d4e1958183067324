"""Every Describe* and List* answer has what botocore's output shape says the service returns.

A required member of the shape (at any depth, inside the structures present) must be in the
answer, and so must the optional members real SageMaker returns for such a resource even when
the request left them unset (SDKs read them with `[...]`, e.g. `Estimator.attach` reads
`OutputDataConfig.KmsKeyId`).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.localcloud.sagemaker.conftest import Cloud

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
