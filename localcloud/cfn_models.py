"""CloudFormation models for the resource types moto's CloudFormation skips or leaves unnamed.

moto 5.2.5 creates a stack's resources through its `CloudFormationModel` subclasses (the table
`moto.cloudformation.parsing.get_model_map` builds from them). A type with no model is skipped:
the stack lists it with no logical id or type, `describe-stack-resource` fails with a 500, and
outputs that `Ref` it (`ApiKeyId`) are left out. This module is the one place the local cloud
extends that table (`install`, called before the first stack is created): each model creates
its resource in moto's own backend, as moto's models do, so `aws apigateway get-api-key`,
`get-usage-plans`, `get-stages`, `aws codebuild batch-get-projects`, ... see what the template
declares, and every stack resource has its logical id, type and the physical id AWS gives it.

The model package group lives in the local SageMaker, not in moto: its model creates it there
through the SageMaker API (the cloud's endpoint and credentials are in the environment by then).

Alarms go into moto's CloudWatch, where the local alarm evaluator reads them.

Two types are listed without a copy in moto: the CodePipeline pipeline (the local CodePipeline
service serves it from the template) and S3 bucket policies (moto would enforce their Deny
statements with the `aws:SecureTransport` condition ignored, refusing every plain-HTTP call).
"""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.apigateway.models import apigateway_backends
from moto.cloudformation import models as cloudformation_models
from moto.cloudformation import parsing
from moto.cloudformation.utils import random_suffix
from moto.cloudwatch.models import cloudwatch_backends
from moto.codebuild.models import codebuild_backends
from moto.codecommit.models import codecommit_backends
from moto.core.common_models import CloudFormationModel
from moto.sns.models import sns_backends

# moto's own models of these types create the resource but give it no physical id (or, for
# the REST API, drop its resource policy): wrapped, they get what AWS gives them. Read before
# the models below exist, which also fills moto's cached table without them: importing this
# module changes nothing until `install`.
_MOTO_MODELS = {
    model.cloudformation_type(): model
    for model in parsing.get_model_list()
    if model.cloudformation_type()
    in {
        "AWS::ApiGateway::RestApi",
        "AWS::ApiGateway::Deployment",
        "AWS::ApiGateway::Method",
        "AWS::Lambda::Permission",
    }
}


API_KEY_ALPHABET = string.ascii_letters + string.digits
API_KEY_LENGTH = 40  # what API Gateway generates


def generated_api_key_value() -> str:
    """A key value as API Gateway makes one: 40 random letters and digits."""
    return "".join(secrets.choice(API_KEY_ALPHABET) for _ in range(API_KEY_LENGTH))


def _generated_id(kwargs: dict[str, Any]) -> str:
    """CloudFormation's id for a resource with no name of its own: `abalo-Predi-1A2B3C4D5E6F`."""
    stack_name = kwargs["StackId"].split("/")[1]
    return f"{stack_name[:5]}-{kwargs['LogicalId'][:5]}-{random_suffix()}"


def _tags(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags or []}


def _lower_keys(value: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A template's `{RateLimit: 25}` as the API's `{rateLimit: 25}`, for the names given."""
    unknown = set(value) - set(names)
    if unknown:
        raise ValueError(f"the local cloud does not model {sorted(unknown)}")
    return {names[key]: item for key, item in value.items()}


@dataclass(frozen=True)
class _Request:
    """One resource for a model to create: its properties, where, and moto's name for it."""

    properties: dict[str, Any]
    account_id: str
    region_name: str
    name: str  # the name property's value, or the name moto generated
    ids: dict[str, Any]  # LogicalId and StackId


class _Listed:
    """A resource the stack lists with its physical id; each model says what it is in moto.

    moto finds models as direct subclasses of `CloudFormationModel`, so each model names it
    as a base next to this mixin.
    """

    type_name = ""
    name_property = ""
    modelled: frozenset[str] = frozenset()  # the properties it creates in moto
    copied = True  # False: listed only, nothing of it in moto

    def __init__(self, physical_id: str, delete: Any = None) -> None:
        self.physical_resource_id = physical_id
        self._delete = delete

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.type_name

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.name_property

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _Listed:
        """What moto calls: a property the model would drop is an error naming it."""
        properties: dict[str, Any] = cloudformation_json["Properties"]
        dropped = set(properties) - cls.modelled
        if cls.copied and dropped:
            raise ValueError(f"the local cloud does not model {cls.type_name} {sorted(dropped)}")
        return cls.create(_Request(properties, account_id, region_name, resource_name, kwargs))

    @classmethod
    def create(cls, request: _Request) -> _Listed:
        """Create the resource in moto; its physical id and how to delete it."""
        raise NotImplementedError

    def delete(self, account_id: str, region_name: str) -> None:
        """moto's stack deletion calls this; the resource goes from its backend too."""
        if self._delete is not None:
            self._delete()


class ApiKey(_Listed, CloudFormationModel):
    type_name, name_property = "AWS::ApiGateway::ApiKey", "Name"
    modelled = frozenset(
        {
            "Name",
            "Description",
            "Enabled",
            "Value",
            "CustomerId",
            "StageKeys",
            "Tags",
            # deprecated: no effect on AWS either
            "GenerateDistinctId",
        }
    )

    @classmethod
    def create(cls, request: _Request) -> ApiKey:
        properties = request.properties
        backend = apigateway_backends[request.account_id][request.region_name]
        key = backend.create_api_key(
            {
                "name": properties.get("Name", request.name),
                "description": properties.get("Description"),
                "enabled": str(properties.get("Enabled", False)).lower() == "true",
                "value": properties.get("Value") or generated_api_key_value(),
                "customerId": properties.get("CustomerId"),
                "stageKeys": [
                    _lower_keys(stage, {"RestApiId": "restApiId", "StageName": "stageName"})
                    for stage in properties.get("StageKeys", [])
                ],
                "tags": _tags(properties.get("Tags")),
            }
        )
        return cls(key.id, lambda: backend.delete_api_key(key.id))


THROTTLE = {"RateLimit": "rateLimit", "BurstLimit": "burstLimit"}
QUOTA = {"Limit": "limit", "Period": "period", "Offset": "offset"}


class UsagePlan(_Listed, CloudFormationModel):
    type_name, name_property = "AWS::ApiGateway::UsagePlan", "UsagePlanName"
    modelled = frozenset({"UsagePlanName", "Description", "ApiStages", "Throttle", "Quota", "Tags"})

    @classmethod
    def create(cls, request: _Request) -> UsagePlan:
        properties = request.properties
        backend = apigateway_backends[request.account_id][request.region_name]
        payload: dict[str, Any] = {
            "name": properties.get("UsagePlanName", request.name),
            "description": properties.get("Description"),
            "apiStages": [
                _lower_keys(stage, {"ApiId": "apiId", "Stage": "stage"})
                for stage in properties.get("ApiStages", [])
            ],
            "tags": _tags(properties.get("Tags")),
        }
        if "Throttle" in properties:
            payload["throttle"] = _numbers(_lower_keys(properties["Throttle"], THROTTLE))
        if "Quota" in properties:
            payload["quota"] = _numbers(_lower_keys(properties["Quota"], QUOTA))
        plan = backend.create_usage_plan(payload)
        return cls(plan.id, lambda: backend.delete_usage_plan(plan.id))


def _numbers(value: dict[str, Any]) -> dict[str, Any]:
    """Numbers as the API answers them (rateLimit a double, the rest integers), not strings."""
    converted: dict[str, Any] = {}
    for key, item in value.items():
        if key == "period":
            converted[key] = item
        elif key == "rateLimit":
            converted[key] = float(item)
        else:
            converted[key] = int(item)
    return converted


class UsagePlanKey(_Listed, CloudFormationModel):
    type_name = "AWS::ApiGateway::UsagePlanKey"
    modelled = frozenset({"KeyId", "KeyType", "UsagePlanId"})

    @classmethod
    def create(cls, request: _Request) -> UsagePlanKey:
        properties = request.properties
        backend = apigateway_backends[request.account_id][request.region_name]
        plan_id, key_id = properties["UsagePlanId"], properties["KeyId"]
        backend.create_usage_plan_key(plan_id, {"keyId": key_id, "keyType": properties["KeyType"]})
        return cls(key_id, lambda: backend.delete_usage_plan_key(plan_id, key_id))


def _method_setting_operations(setting: dict[str, Any]) -> list[dict[str, str]]:
    """UpdateStage patch operations for one `MethodSettings` entry (`/*/*/throttling/...`)."""
    resource = setting.get("ResourcePath", "/*").lstrip("/").replace("/", "~1") or "~1"
    prefix = f"/{resource}/{setting.get('HttpMethod', '*')}"
    paths = {
        "MetricsEnabled": "metrics/enabled",
        "LoggingLevel": "logging/loglevel",
        "DataTraceEnabled": "logging/dataTrace",
        "ThrottlingBurstLimit": "throttling/burstLimit",
        "ThrottlingRateLimit": "throttling/rateLimit",
        "CachingEnabled": "caching/enabled",
        "CacheTtlInSeconds": "caching/ttlInSeconds",
        "CacheDataEncrypted": "caching/dataEncrypted",
    }
    unknown = set(setting) - set(paths) - {"ResourcePath", "HttpMethod"}
    if unknown:
        raise ValueError(f"the local cloud does not model MethodSettings {sorted(unknown)}")
    return [
        {"op": "replace", "path": f"{prefix}/{paths[name]}", "value": str(value).lower()}
        for name, value in setting.items()
        if name in paths
    ]


class Stage(_Listed, CloudFormationModel):
    type_name, name_property = "AWS::ApiGateway::Stage", "StageName"
    modelled = frozenset(
        {
            "RestApiId",
            "StageName",
            "DeploymentId",
            "Variables",
            "Description",
            "Tags",
            "TracingEnabled",
            "MethodSettings",
            "AccessLogSetting",
        }
    )

    @classmethod
    def create(cls, request: _Request) -> Stage:
        properties = request.properties
        backend = apigateway_backends[request.account_id][request.region_name]
        api_id, name = properties["RestApiId"], properties["StageName"]
        stage = backend.create_stage(
            api_id,
            name,
            properties["DeploymentId"],
            variables=properties.get("Variables", {}),
            description=properties.get("Description", ""),
            tags=_tags(properties.get("Tags")),
            tracing_enabled=str(properties.get("TracingEnabled", False)).lower() == "true",
        )
        operations = [
            operation
            for setting in properties.get("MethodSettings", [])
            for operation in _method_setting_operations(setting)
        ]
        access_log = properties.get("AccessLogSetting")
        if access_log:
            operations += [
                {"op": "replace", "path": f"/accessLogSettings/{key}", "value": access_log[name]}
                for name, key in (("DestinationArn", "destinationArn"), ("Format", "format"))
                if name in access_log
            ]
        stage.apply_operations(operations)
        return cls(name, lambda: backend.delete_stage(api_id, name))


class ApiGatewayAccount(_Listed, CloudFormationModel):
    type_name = "AWS::ApiGateway::Account"
    modelled = frozenset({"CloudWatchRoleArn"})

    @classmethod
    def create(cls, request: _Request) -> ApiGatewayAccount:
        role = request.properties.get("CloudWatchRoleArn")
        backend = apigateway_backends[request.account_id][request.region_name]
        backend.update_account([{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}])
        # The setting outlives the stack on AWS too: deleting the resource leaves it.
        return cls(_generated_id(request.ids))


class CodeBuildProject(_Listed, CloudFormationModel):
    type_name, name_property = "AWS::CodeBuild::Project", "Name"
    modelled = frozenset(
        {
            "Name",
            "Description",
            "Source",
            "Artifacts",
            "Environment",
            "ServiceRole",
            "Tags",
            "Cache",
            "TimeoutInMinutes",
            "QueuedTimeoutInMinutes",
            "SourceVersion",
            "LogsConfig",
            "VpcConfig",
        }
    )

    @classmethod
    def create(cls, request: _Request) -> CodeBuildProject:
        properties = request.properties
        backend = codebuild_backends[request.account_id][request.region_name]
        name = properties.get("Name", request.name)
        environment = properties["Environment"]
        backend.create_project(
            name,
            properties.get("Description"),
            _camel(properties["Source"]),
            _camel(properties["Artifacts"]),
            {
                **_camel({k: v for k, v in environment.items() if k != "EnvironmentVariables"}),
                "environmentVariables": [
                    _camel(variable) for variable in environment.get("EnvironmentVariables", [])
                ],
            },
            properties["ServiceRole"],
            [{"key": k, "value": v} for k, v in _tags(properties.get("Tags")).items()],
            _camel(properties["Cache"]) if "Cache" in properties else None,
            int(properties.get("TimeoutInMinutes", 60)),
            int(properties.get("QueuedTimeoutInMinutes", 480)),
            properties.get("SourceVersion"),
            _camel(properties["LogsConfig"]) if "LogsConfig" in properties else None,
            _camel(properties["VpcConfig"]) if "VpcConfig" in properties else None,
        )
        return cls(name, lambda: backend.delete_project(name))


def _camel(value: Any) -> Any:
    """CloudFormation's PascalCase properties as the CodeBuild API's camelCase members."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: _camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel(item) for item in value]
    return value


# GetAtt's attributes of a repository -> the keys of moto's repository metadata holding them
_REPOSITORY_ATTRIBUTES = {
    "Arn": "Arn",
    "Name": "repositoryName",
    "CloneUrlHttp": "cloneUrlHttp",
    "CloneUrlSsh": "cloneUrlSsh",
}


class CodeCommitRepository(_Listed, CloudFormationModel):
    type_name, name_property = "AWS::CodeCommit::Repository", "RepositoryName"
    modelled = frozenset({"RepositoryName", "RepositoryDescription"})
    attributes: dict[str, str]  # what GetAtt reads, set at create

    @classmethod
    def create(cls, request: _Request) -> CodeCommitRepository:
        properties = request.properties
        backend = codecommit_backends[request.account_id][request.region_name]
        name = properties["RepositoryName"]
        metadata = backend.create_repository(name, properties.get("RepositoryDescription", ""))
        # Ref is the repository id on AWS (a UUID), not its name.
        repository = cls(metadata["repositoryId"], lambda: backend.delete_repository(name))
        repository.attributes = {
            attribute: metadata[key] for attribute, key in _REPOSITORY_ATTRIBUTES.items()
        }
        return repository

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in _REPOSITORY_ATTRIBUTES

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.attributes[attribute_name]


class SnsSubscription(_Listed, CloudFormationModel):
    type_name = "AWS::SNS::Subscription"
    modelled = frozenset({"TopicArn", "Protocol", "Endpoint"})

    @classmethod
    def create(cls, request: _Request) -> SnsSubscription:
        properties = request.properties
        backend = sns_backends[request.account_id][request.region_name]
        subscription = backend.subscribe(
            properties["TopicArn"], properties["Endpoint"], properties["Protocol"]
        )
        return cls(subscription.arn, lambda: backend.unsubscribe(subscription.arn))


class CloudWatchAlarm(_Listed, CloudFormationModel):
    """A metric alarm on one metric, in moto's CloudWatch, where the local alarm evaluator
    reads it; Ref is its name, as on AWS."""

    type_name, name_property = "AWS::CloudWatch::Alarm", "AlarmName"
    modelled = frozenset(
        {
            "AlarmName",
            "AlarmDescription",
            "Namespace",
            "MetricName",
            "Dimensions",
            "Statistic",
            "Period",
            "EvaluationPeriods",
            "DatapointsToAlarm",
            "Threshold",
            "ComparisonOperator",
            "TreatMissingData",
            "AlarmActions",
            "OKActions",
            "ActionsEnabled",
        }
    )

    @classmethod
    def create(cls, request: _Request) -> CloudWatchAlarm:
        properties = request.properties
        backend = cloudwatch_backends[request.account_id][request.region_name]
        points = properties.get("DatapointsToAlarm")
        backend.put_metric_alarm(
            name=request.name,
            namespace=properties["Namespace"],
            metric_name=properties["MetricName"],
            comparison_operator=properties["ComparisonOperator"],
            evaluation_periods=int(properties["EvaluationPeriods"]),
            period=int(properties["Period"]),
            threshold=float(properties["Threshold"]),
            statistic=properties["Statistic"],
            description=properties.get("AlarmDescription", ""),
            dimensions=properties.get("Dimensions", []),
            alarm_actions=properties.get("AlarmActions", []),
            ok_actions=properties.get("OKActions", []),
            datapoints_to_alarm=None if points is None else int(points),
            actions_enabled=str(properties.get("ActionsEnabled", True)).lower() == "true",
            treat_missing_data=properties.get("TreatMissingData"),
        )
        return cls(request.name, lambda: backend.delete_alarms([request.name]))


class SageMakerModelPackageGroup(_Listed, CloudFormationModel):
    """The group, created through the SageMaker API (the local SageMaker, behind the edge); Ref
    is its ARN, as on AWS."""

    type_name, name_property = "AWS::SageMaker::ModelPackageGroup", "ModelPackageGroupName"
    modelled = frozenset({"ModelPackageGroupName", "ModelPackageGroupDescription", "Tags"})

    @classmethod
    def create(cls, request: _Request) -> SageMakerModelPackageGroup:
        sagemaker = boto3.session.Session(region_name=request.region_name).client(
            "sagemaker", config=Config(retries={"total_max_attempts": 1})
        )
        name = request.properties["ModelPackageGroupName"]
        arn = sagemaker.create_model_package_group(**request.properties)["ModelPackageGroupArn"]

        def delete() -> None:
            try:
                sagemaker.delete_model_package_group(ModelPackageGroupName=name)
            except ClientError as error:
                # moto, where it stands in for AWS without the local SageMaker (the deploy
                # script's tests), has no DeleteModelPackageGroup and answers 500: its group
                # goes with its backend. The local SageMaker answers every other error.
                if error.response["ResponseMetadata"].get("HTTPStatusCode") != 500:
                    raise

        return cls(arn, delete)


class CodePipelinePipeline(_Listed, CloudFormationModel):
    """Listed by name only: the local CodePipeline service serves the pipeline itself."""

    type_name, name_property = "AWS::CodePipeline::Pipeline", "Name"
    copied = False

    @classmethod
    def create(cls, request: _Request) -> CodePipelinePipeline:
        return cls(request.properties.get("Name", request.name))


class S3BucketPolicy(_Listed, CloudFormationModel):
    """Listed by its bucket only: moto would enforce it with its conditions ignored."""

    type_name = "AWS::S3::BucketPolicy"
    copied = False

    @classmethod
    def create(cls, request: _Request) -> S3BucketPolicy:
        return cls(request.properties["Bucket"])


class _Completed:
    """moto's model of a type, its resource given the physical id (and policy) AWS gives it."""

    type_name = ""

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.type_name

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return _MOTO_MODELS[cls.type_name].cloudformation_name_type()

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return _MOTO_MODELS[cls.type_name].has_cfn_attr(attr)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        resource = _MOTO_MODELS[cls.type_name].create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        cls.complete(resource, cloudformation_json["Properties"], kwargs)
        return resource

    @classmethod
    def complete(cls, resource: Any, properties: dict[str, Any], kwargs: dict[str, Any]) -> None:
        resource.physical_resource_id = _generated_id(kwargs)


class RestApi(_Completed, CloudFormationModel):
    type_name = "AWS::ApiGateway::RestApi"

    @classmethod
    def complete(cls, resource: Any, properties: dict[str, Any], kwargs: dict[str, Any]) -> None:
        # The API holds the policy as JSON text, whichever form the template gives it in.
        policy = properties.get("Policy")
        text = json.dumps(policy) if isinstance(policy, dict) else policy or None
        resource.apply_patch_operations(
            [
                {"op": "replace", "path": "/policy", "value": text},
                {"op": "replace", "path": "/description", "value": properties.get("Description")},
            ]
        )

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[override]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        """A stack update changes the API in place (moto's model has no update: it drops it)."""
        properties = cloudformation_json["Properties"]
        original_resource.apply_patch_operations(
            [{"op": "replace", "path": "/name", "value": properties["Name"]}]
        )
        cls.complete(original_resource, properties, {})
        return original_resource


class Deployment(_Completed, CloudFormationModel):
    type_name = "AWS::ApiGateway::Deployment"

    @classmethod
    def complete(cls, resource: Any, properties: dict[str, Any], kwargs: dict[str, Any]) -> None:
        resource.physical_resource_id = resource.id  # Ref: the deployment id


class Method(_Completed, CloudFormationModel):
    type_name = "AWS::ApiGateway::Method"


class LambdaPermission(_Completed, CloudFormationModel):
    type_name = "AWS::Lambda::Permission"


MODELS: tuple[type[CloudFormationModel], ...] = (
    ApiKey,
    UsagePlan,
    UsagePlanKey,
    Stage,
    ApiGatewayAccount,
    CodeBuildProject,
    CodeCommitRepository,
    SnsSubscription,
    CloudWatchAlarm,
    SageMakerModelPackageGroup,
    CodePipelinePipeline,
    S3BucketPolicy,
    RestApi,
    Deployment,
    Method,
    LambdaPermission,
)


def _listed_resources(stack: Any) -> list[Any]:
    # A resource whose Condition is false is not part of the stack (moto lists it as a blank).
    return [resource for resource in stack.resource_map.values() if resource is not None]


def install() -> None:
    """Make moto's CloudFormation use these models (idempotent); check that it does."""
    for table in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        table.cache_clear()
    cloudformation_models.Stack.stack_resources = property(_listed_resources)  # type: ignore[assignment]
    table = parsing.get_model_map()
    wrong = [model.type_name for model in MODELS if table.get(model.type_name) is not model]  # type: ignore[attr-defined]
    if wrong:
        raise RuntimeError(f"moto's CloudFormation does not use the local models of {wrong}")
