"""Which request members each served action implements; any other is refused by name.

botocore's model lists every member a SageMaker action takes; the local SageMaker implements a
part of them. A request that sets any other member, or a value the local SageMaker cannot
honour (a second instance, network isolation, Pipe mode), is refused with a ValidationException
naming it, so nothing is accepted and silently ignored. Checked after botocore's model, before
any work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Union

from localcloud.core.exceptions import AwsError
from localcloud.sagemaker.exceptions import ValidationException
from localcloud.sagemaker.profiler import PROFILING_INTERVALS

# A member's rule: USED (implemented as given, sub-members included), a nested table (a
# structure, or a list of them, whose own members are checked), or a check that answers why a
# value cannot be honoured (None when it can).
Rule = Union[bool, "Table", Callable[[Any], str | None]]
Table = dict[str, Rule]
USED = True


def only(*values: Any, why: str) -> Callable[[Any], str | None]:
    """A member implemented for these values only."""
    return lambda value: None if value in values else why


NOT_ISOLATED = only(False, why="the container runs as a host process, not network-isolated")
PAGED_LIST: Table = {
    member: USED
    for member in (
        "NextToken",
        "MaxResults",
        "NameContains",
        "SortBy",
        "SortOrder",
        "CreationTimeAfter",
        "CreationTimeBefore",
    )
}
PAGED_LIST_WITH_STATUS: Table = {
    **PAGED_LIST,
    "LastModifiedTimeAfter": USED,
    "LastModifiedTimeBefore": USED,
    "StatusEquals": USED,
}
FILE_MODES = only("File", "FastFile", why="channels are downloaded as files (Pipe mode is not)")
CONTAINER: Table = {
    "ContainerHostname": USED,
    "Image": USED,
    "Mode": only("SingleModel", why="the local SageMaker serves single-model containers"),
    "ModelDataUrl": USED,
    "Environment": USED,
    "ModelPackageName": USED,  # an Approved version of the registry (its image and model data)
}
METRICS_PAIR: Table = {"Statistics": USED, "Constraints": USED}
APP_MANAGED = only(False, why="the local SageMaker moves every input and output through S3")
ENDPOINT_INPUT: Table = {
    "EndpointName": USED,
    "LocalPath": USED,
    "S3InputMode": only("File", why="the capture is downloaded as files (not Pipe)"),
    "S3DataDistributionType": USED,  # one instance: sharded is the whole input
    "InferenceAttribute": USED,
    "ExcludeFeaturesAttribute": USED,
    "StartTimeOffset": USED,
    "EndTimeOffset": USED,
}
MONITORING_OUTPUT_CONFIG: Table = {
    "MonitoringOutputs": {"S3Output": {"S3Uri": USED, "LocalPath": USED, "S3UploadMode": USED}},
    "KmsKeyId": USED,
}
MONITORING_RESOURCES: Table = {
    "ClusterConfig": {
        "InstanceCount": only(1, why="a monitoring job runs on one local host (algo-1)"),
        "InstanceType": USED,
        "VolumeSizeInGB": USED,
    }
}
MONITORING_APP: Table = {"ImageUri": USED, "ContainerEntrypoint": USED, "ContainerArguments": USED}
MONITORING_SCHEDULE_CONFIG: Table = {
    "ScheduleConfig": {
        "ScheduleExpression": USED,
        "DataAnalysisStartTime": USED,
        "DataAnalysisEndTime": USED,
    },
    "MonitoringType": only(
        "DataQuality",
        "ModelQuality",
        why="the container's monitor checks data quality and (regression) model quality",
    ),
    "MonitoringJobDefinitionName": USED,
    "MonitoringJobDefinition": {
        "BaselineConfig": {"ConstraintsResource": USED, "StatisticsResource": USED},
        "MonitoringInputs": {"EndpointInput": ENDPOINT_INPUT},
        "MonitoringOutputConfig": MONITORING_OUTPUT_CONFIG,
        "MonitoringResources": MONITORING_RESOURCES,
        "MonitoringAppSpecification": MONITORING_APP,
        "StoppingCondition": {"MaxRuntimeInSeconds": USED},
        "Environment": USED,
        "RoleArn": USED,
    },
}
JOB_DEFINITION_COMMON: Table = {
    "JobDefinitionName": USED,
    "JobResources": MONITORING_RESOURCES,
    "RoleArn": USED,
    "StoppingCondition": {"MaxRuntimeInSeconds": USED},
    "Tags": USED,
}

MEMBERS: dict[str, Table] = {
    "CreateTrainingJob": {
        "TrainingJobName": USED,
        "HyperParameters": USED,
        "AlgorithmSpecification": {
            "TrainingImage": USED,
            "TrainingInputMode": FILE_MODES,
            "MetricDefinitions": USED,
            "EnableSageMakerMetricsTimeSeries": only(
                False, why="training metrics are read from the log into FinalMetricDataList only"
            ),
        },
        "RoleArn": USED,
        "InputDataConfig": {
            "ChannelName": USED,
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": only("S3Prefix", why="channels are read from an S3 prefix"),
                    "S3Uri": USED,
                    # One instance: a shard by S3 key is the whole channel, as replicated is.
                    "S3DataDistributionType": USED,
                }
            },
            "ContentType": USED,
            "CompressionType": only("None", why="channels are downloaded as they are"),
            "RecordWrapperType": only("None", why="RecordIO wrapping is a Pipe mode feature"),
            "InputMode": FILE_MODES,
        },
        "OutputDataConfig": {
            "KmsKeyId": USED,
            "S3OutputPath": USED,
            "CompressionType": only("GZIP", why="the model is uploaded as model.tar.gz"),
        },
        "ResourceConfig": {
            "InstanceType": USED,
            "InstanceCount": only(1, why="a training job runs on one local host (algo-1)"),
            "VolumeSizeInGB": USED,
            "KeepAlivePeriodInSeconds": only(0, why="there are no warm pools"),
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": USED},
        "Tags": USED,
        "EnableNetworkIsolation": NOT_ISOLATED,
        # One instance: there is no traffic between containers to encrypt.
        "EnableInterContainerTrafficEncryption": USED,
        "EnableManagedSpotTraining": only(False, why="jobs run on demand, never on spot"),
        "Environment": USED,
        # Debugger as SageMaker runs it for a bring-your-own container: the hook configuration
        # written for the container, what it writes under LocalPath uploaded (`debugger`).
        "DebugHookConfig": {
            "S3OutputPath": USED,
            "LocalPath": USED,
            "HookParameters": USED,
            "CollectionConfigurations": USED,
        },
        # The system monitor (`profiler`); detailed framework profiling is not implemented.
        "ProfilerConfig": {
            "S3OutputPath": USED,
            "ProfilingIntervalInMilliseconds": only(
                *PROFILING_INTERVALS,
                why=f"SageMaker samples at {', '.join(map(str, PROFILING_INTERVALS[:-1]))} or "
                f"{PROFILING_INTERVALS[-1]} ms",
            ),
            "ProfilingParameters": only(
                {}, why="detailed framework profiling is not implemented (only system monitoring)"
            ),
            "DisableProfiler": USED,
        },
        # Rules run AWS's own rule images, which the local SageMaker does not have.
        "DebugRuleConfigurations": only([], why="Debugger rules run in AWS's rule images"),
        "ProfilerRuleConfigurations": only([], why="profiler rules run in AWS's rule images"),
    },
    "DescribeTrainingJob": {"TrainingJobName": USED},
    "StopTrainingJob": {"TrainingJobName": USED},
    "ListTrainingJobs": PAGED_LIST_WITH_STATUS,
    # A processing job runs on one local host and moves data through S3 prefixes, as files.
    "CreateProcessingJob": {
        "ProcessingJobName": USED,
        "ProcessingInputs": {
            "InputName": USED,
            "AppManaged": APP_MANAGED,
            "S3Input": {
                "S3Uri": USED,
                "LocalPath": USED,
                "S3DataType": only("S3Prefix", why="inputs are read from an S3 prefix"),
                "S3InputMode": only("File", why="inputs are downloaded as files (not Pipe)"),
                # One instance: a shard by S3 key is the whole input, as replicated is.
                "S3DataDistributionType": USED,
                "S3CompressionType": only("None", why="inputs are downloaded as they are"),
            },
        },
        "ProcessingOutputConfig": {
            "Outputs": {
                "OutputName": USED,
                "AppManaged": APP_MANAGED,
                # Continuous outputs are uploaded at the end too: the same objects, later.
                "S3Output": {"S3Uri": USED, "LocalPath": USED, "S3UploadMode": USED},
            },
            "KmsKeyId": USED,
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": only(1, why="a processing job runs on one local host (algo-1)"),
                "InstanceType": USED,
                "VolumeSizeInGB": USED,
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": USED},
        "AppSpecification": {
            "ImageUri": USED,
            "ContainerEntrypoint": USED,
            "ContainerArguments": USED,
        },
        "Environment": USED,
        "RoleArn": USED,
        "Tags": USED,
    },
    "DescribeProcessingJob": {"ProcessingJobName": USED},
    "StopProcessingJob": {"ProcessingJobName": USED},
    "ListProcessingJobs": PAGED_LIST_WITH_STATUS,
    # A transform job runs the model's serve in batch mode over every object of an S3 prefix.
    "CreateTransformJob": {
        "TransformJobName": USED,
        "ModelName": USED,
        "MaxConcurrentTransforms": USED,
        "ModelClientConfig": USED,
        "MaxPayloadInMB": USED,
        "BatchStrategy": USED,
        "Environment": USED,
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": only("S3Prefix", why="input objects are read from an S3 prefix"),
                    "S3Uri": USED,
                }
            },
            "ContentType": USED,
            "CompressionType": USED,
            "SplitType": only(
                "None", "Line", why="objects are split by line (RecordIO and TFRecord are not)"
            ),
        },
        "TransformOutput": USED,
        "TransformResources": {"InstanceType": USED, "InstanceCount": USED},
        "DataProcessing": USED,
        "Tags": USED,
    },
    "DescribeTransformJob": {"TransformJobName": USED},
    "StopTransformJob": {"TransformJobName": USED},
    "ListTransformJobs": PAGED_LIST_WITH_STATUS,
    # Data or model quality of an endpoint's capture, run as processing jobs.
    "CreateMonitoringSchedule": {
        "MonitoringScheduleName": USED,
        "MonitoringScheduleConfig": MONITORING_SCHEDULE_CONFIG,
        "Tags": USED,
    },
    "DescribeMonitoringSchedule": {"MonitoringScheduleName": USED},
    "UpdateMonitoringSchedule": {
        "MonitoringScheduleName": USED,
        "MonitoringScheduleConfig": MONITORING_SCHEDULE_CONFIG,
    },
    "DeleteMonitoringSchedule": {"MonitoringScheduleName": USED},
    "StartMonitoringSchedule": {"MonitoringScheduleName": USED},
    "StopMonitoringSchedule": {"MonitoringScheduleName": USED},
    "ListMonitoringSchedules": {
        **PAGED_LIST_WITH_STATUS,
        "EndpointName": USED,
        "MonitoringJobDefinitionName": USED,
        "MonitoringTypeEquals": USED,
    },
    "ListMonitoringExecutions": {  # no NameContains: executions have no names
        **{k: rule for k, rule in PAGED_LIST_WITH_STATUS.items() if k != "NameContains"},
        "MonitoringScheduleName": USED,
        "EndpointName": USED,
        "ScheduledTimeBefore": USED,
        "ScheduledTimeAfter": USED,
        "MonitoringJobDefinitionName": USED,
        "MonitoringTypeEquals": USED,
    },
    "CreateDataQualityJobDefinition": {
        **JOB_DEFINITION_COMMON,
        "DataQualityBaselineConfig": {"ConstraintsResource": USED, "StatisticsResource": USED},
        "DataQualityAppSpecification": {**MONITORING_APP, "Environment": USED},
        "DataQualityJobInput": {"EndpointInput": ENDPOINT_INPUT},
        "DataQualityJobOutputConfig": MONITORING_OUTPUT_CONFIG,
    },
    "DescribeDataQualityJobDefinition": {"JobDefinitionName": USED},
    "DeleteDataQualityJobDefinition": {"JobDefinitionName": USED},
    "ListDataQualityJobDefinitions": {**PAGED_LIST, "EndpointName": USED},
    "CreateModelQualityJobDefinition": {
        **JOB_DEFINITION_COMMON,
        "ModelQualityBaselineConfig": {"ConstraintsResource": USED},
        "ModelQualityAppSpecification": {
            **MONITORING_APP,
            "Environment": USED,
            "ProblemType": only(
                "Regression", why="the container's monitor evaluates regression models"
            ),
        },
        "ModelQualityJobInput": {"EndpointInput": ENDPOINT_INPUT, "GroundTruthS3Input": USED},
        "ModelQualityJobOutputConfig": MONITORING_OUTPUT_CONFIG,
    },
    "DescribeModelQualityJobDefinition": {"JobDefinitionName": USED},
    "DeleteModelQualityJobDefinition": {"JobDefinitionName": USED},
    "ListModelQualityJobDefinitions": {**PAGED_LIST, "EndpointName": USED},
    "CreateModel": {
        "ModelName": USED,
        "PrimaryContainer": CONTAINER,
        "Containers": CONTAINER,
        "ExecutionRoleArn": USED,
        "Tags": USED,
        "EnableNetworkIsolation": NOT_ISOLATED,
    },
    "DescribeModel": {"ModelName": USED},
    "DeleteModel": {"ModelName": USED},
    "ListModels": PAGED_LIST,
    "CreateEndpointConfig": {
        "EndpointConfigName": USED,
        "ProductionVariants": {
            "VariantName": USED,
            "ModelName": USED,
            "InitialInstanceCount": USED,  # one serve process per instance
            "InstanceType": USED,
            "InitialVariantWeight": USED,  # one variant takes all traffic, whatever its weight
            "VolumeSizeInGB": USED,
            "ContainerStartupHealthCheckTimeoutInSeconds": USED,
        },
        "DataCaptureConfig": USED,
        "Tags": USED,
        "EnableNetworkIsolation": NOT_ISOLATED,
    },
    "DescribeEndpointConfig": {"EndpointConfigName": USED},
    "DeleteEndpointConfig": {"EndpointConfigName": USED},
    "ListEndpointConfigs": PAGED_LIST,
    "CreateEndpoint": {"EndpointName": USED, "EndpointConfigName": USED, "Tags": USED},
    "UpdateEndpoint": {
        "EndpointName": USED,
        "EndpointConfigName": USED,
        "RetainAllVariantProperties": USED,
        "ExcludeRetainedVariantProperties": USED,
        "DeploymentConfig": {
            "BlueGreenUpdatePolicy": USED,
            "RollingUpdatePolicy": lambda _: (
                "the local SageMaker implements BlueGreenUpdatePolicy only"
            ),
            "AutoRollbackConfiguration": USED,
        },
        "RetainDeploymentConfig": USED,
    },
    "UpdateEndpointWeightsAndCapacities": {
        "EndpointName": USED,
        "DesiredWeightsAndCapacities": {
            "VariantName": USED,
            "DesiredWeight": USED,  # shown; one variant takes all traffic whatever its weight
            "DesiredInstanceCount": USED,
        },
    },
    "DescribeEndpoint": {"EndpointName": USED},
    "DeleteEndpoint": {"EndpointName": USED},
    "ListEndpoints": PAGED_LIST_WITH_STATUS,
    "CreateModelPackageGroup": {
        "ModelPackageGroupName": USED,
        "ModelPackageGroupDescription": USED,
        "Tags": USED,
    },
    "DescribeModelPackageGroup": {"ModelPackageGroupName": USED},
    "ListModelPackageGroups": PAGED_LIST,
    "DeleteModelPackageGroup": {"ModelPackageGroupName": USED},
    "CreateModelPackage": {
        "ModelPackageGroupName": USED,
        "ModelPackageDescription": USED,
        "InferenceSpecification": {
            "Containers": {
                "ContainerHostname": USED,
                "Image": USED,
                "ImageDigest": USED,
                "ModelDataUrl": USED,
                "Environment": USED,
                "Framework": USED,
                "FrameworkVersion": USED,
            },
            "SupportedContentTypes": USED,
            "SupportedResponseMIMETypes": USED,
            "SupportedRealtimeInferenceInstanceTypes": USED,
            "SupportedTransformInstanceTypes": USED,
        },
        "ModelApprovalStatus": USED,
        "MetadataProperties": USED,
        "ModelMetrics": {
            "ModelQuality": METRICS_PAIR,
            "ModelDataQuality": METRICS_PAIR,
            "Bias": {"Report": USED, "PreTrainingReport": USED, "PostTrainingReport": USED},
            "Explainability": {"Report": USED},
        },
        "DriftCheckBaselines": {
            "Bias": {
                "ConfigFile": USED,
                "PreTrainingConstraints": USED,
                "PostTrainingConstraints": USED,
            },
            "Explainability": {"Constraints": USED, "ConfigFile": USED},
            "ModelQuality": METRICS_PAIR,
            "ModelDataQuality": METRICS_PAIR,
        },
        "CustomerMetadataProperties": USED,
        "ClientToken": USED,
        "Tags": USED,
        # Descriptive: kept and shown again by DescribeModelPackage.
        "Domain": USED,
        "Task": USED,
        "SamplePayloadUrl": USED,
        # ModelPackageName (unversioned, Marketplace packages), validation and algorithm
        # specifications, model cards, life cycles and the rest are refused by name.
    },
    "DescribeModelPackage": {"ModelPackageName": USED},
    "ListModelPackages": {
        **PAGED_LIST,
        "ModelApprovalStatus": USED,
        "ModelPackageGroupName": USED,
        "ModelPackageType": USED,
    },
    "UpdateModelPackage": {
        "ModelPackageArn": USED,
        "ModelApprovalStatus": USED,
        "ApprovalDescription": USED,
        "CustomerMetadataProperties": USED,
        "CustomerMetadataPropertiesToRemove": USED,
    },
    "DeleteModelPackage": {"ModelPackageName": USED},
    "AddTags": {"ResourceArn": USED, "Tags": USED},
    "ListTags": {"ResourceArn": USED, "NextToken": USED, "MaxResults": USED},
    "DeleteTags": {"ResourceArn": USED, "TagKeys": USED},
}


# SageMaker Runtime: one container, one variant, no sessions, explanations or components.
_INVOCATION: Table = {
    member: USED for member in ("EndpointName", "Body", "ContentType", "Accept", "CustomAttributes")
}
_INVOCATION["InferenceId"] = USED  # data capture's eventMetadata.inferenceId
RUNTIME_MEMBERS: dict[str, Table] = {
    "InvokeEndpoint": _INVOCATION,
    "InvokeEndpointWithResponseStream": _INVOCATION,
}


def check_members(
    operation: str,
    params: dict[str, Any],
    tables: dict[str, Table] = MEMBERS,
    error: type[AwsError] = ValidationException,
) -> None:
    """Refuse the first member (or value) of the request the local SageMaker does not honour.

    SageMaker Runtime passes its `RUNTIME_MEMBERS` and refuses with its own ValidationError.
    """
    _check(operation, params, tables[operation], "", error)


def _check(operation: str, value: Any, table: Table, path: str, error: type[AwsError]) -> None:
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(operation, item, table, f"{path}[{index}]", error)
        return
    for member, member_value in value.items():
        where = f"{path}.{member}" if path else member
        rule = table.get(member, False)
        if rule is False:
            raise error(f"The local SageMaker does not support {where} on {operation}")
        if isinstance(rule, dict):
            _check(operation, member_value, rule, where, error)
        elif callable(rule) and (why := rule(member_value)) is not None:
            raise error(
                f"The local SageMaker does not support {where}={member_value!r} on "
                f"{operation}: {why}"
            )
