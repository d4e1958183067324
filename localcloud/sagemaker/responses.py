"""One snake_case method per SageMaker action: decoded request parameters in, response dict out.

`SageMakerResponses` serves the control plane (JSON 1.1, `X-Amz-Target: SageMaker.<Action>`);
the server routes each action to the method of the same name. `invoke_endpoint` and
`invoke_endpoint_with_response_stream` are the SageMaker Runtime actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from localcloud.sagemaker import eventstream
from localcloud.sagemaker.backend import LocalSageMaker
from localcloud.sagemaker.endpoints import Invocation
from localcloud.sagemaker.monitoring_job_definitions import DATA_QUALITY, MODEL_QUALITY

# What SageMaker Runtime passes between the caller and the container (it strips the rest).
FORWARDED_HEADERS = {
    "ContentType": "Content-Type",
    "Accept": "Accept",
    "CustomAttributes": "X-Amzn-SageMaker-Custom-Attributes",
}
RETURNED_HEADERS = ("Content-Type", "X-Amzn-SageMaker-Custom-Attributes")


class SageMakerResponses:
    """The control-plane actions this local SageMaker implements."""

    def __init__(self, backend: LocalSageMaker) -> None:
        self._backend = backend

    # --- training jobs ---------------------------------------------------------------------
    def create_training_job(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateTrainingJob."""
        job = self._backend.training_jobs.create(params)
        return {"TrainingJobArn": job.arn}

    def describe_training_job(self, params: dict[str, Any]) -> dict[str, Any]:
        """DescribeTrainingJob."""
        return self._backend.training_jobs.store.describe(params.get("TrainingJobName", ""))

    def stop_training_job(self, params: dict[str, Any]) -> dict[str, Any]:
        """StopTrainingJob."""
        self._backend.training_jobs.stop(params.get("TrainingJobName", ""))
        return {}

    def list_training_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListTrainingJobs."""
        return self._backend.training_jobs.store.list(params)

    # --- processing jobs -------------------------------------------------------------------
    def create_processing_job(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateProcessingJob."""
        return {"ProcessingJobArn": self._backend.processing_jobs.create(params).arn}

    def describe_processing_job(self, params: dict[str, Any]) -> dict[str, Any]:
        """DescribeProcessingJob."""
        return self._backend.processing_jobs.store.describe(params.get("ProcessingJobName", ""))

    def stop_processing_job(self, params: dict[str, Any]) -> dict[str, Any]:
        """StopProcessingJob."""
        self._backend.processing_jobs.stop(params.get("ProcessingJobName", ""))
        return {}

    def list_processing_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListProcessingJobs."""
        return self._backend.processing_jobs.store.list(params)

    # --- transform jobs --------------------------------------------------------------------
    def create_transform_job(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateTransformJob."""
        return {"TransformJobArn": self._backend.transform_jobs.create(params).arn}

    def describe_transform_job(self, params: dict[str, Any]) -> dict[str, Any]:
        """DescribeTransformJob."""
        return self._backend.transform_jobs.store.describe(params.get("TransformJobName", ""))

    def stop_transform_job(self, params: dict[str, Any]) -> dict[str, Any]:
        """StopTransformJob."""
        self._backend.transform_jobs.stop(params.get("TransformJobName", ""))
        return {}

    def list_transform_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListTransformJobs."""
        return self._backend.transform_jobs.store.list(params)

    # --- monitoring schedules ----------------------------------------------------------------
    def create_monitoring_schedule(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateMonitoringSchedule."""
        schedule = self._backend.monitoring_schedules.create(params)
        return {"MonitoringScheduleArn": schedule.arn}

    def describe_monitoring_schedule(self, params: dict[str, Any]) -> dict[str, Any]:
        """DescribeMonitoringSchedule."""
        store = self._backend.monitoring_schedules.store
        return store.describe(params.get("MonitoringScheduleName", ""))

    def update_monitoring_schedule(self, params: dict[str, Any]) -> dict[str, Any]:
        """UpdateMonitoringSchedule."""
        schedule = self._backend.monitoring_schedules.update(params)
        return {"MonitoringScheduleArn": schedule.arn}

    def delete_monitoring_schedule(self, params: dict[str, Any]) -> dict[str, Any]:
        """DeleteMonitoringSchedule."""
        self._backend.monitoring_schedules.delete(params.get("MonitoringScheduleName", ""))
        return {}

    def start_monitoring_schedule(self, params: dict[str, Any]) -> dict[str, Any]:
        """StartMonitoringSchedule."""
        self._backend.monitoring_schedules.start(params.get("MonitoringScheduleName", ""))
        return {}

    def stop_monitoring_schedule(self, params: dict[str, Any]) -> dict[str, Any]:
        """StopMonitoringSchedule."""
        self._backend.monitoring_schedules.stop(params.get("MonitoringScheduleName", ""))
        return {}

    def list_monitoring_schedules(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListMonitoringSchedules."""
        return self._backend.monitoring_schedules.list_schedules(params)

    def list_monitoring_executions(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListMonitoringExecutions."""
        return self._backend.monitoring_schedules.list_executions(params)

    # --- monitoring job definitions ---------------------------------------------------------
    def create_data_quality_job_definition(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateDataQualityJobDefinition."""
        made = self._backend.monitoring_schedules.create_definition(DATA_QUALITY, params)
        return {"JobDefinitionArn": made.arn}

    def describe_data_quality_job_definition(self, params: dict[str, Any]) -> dict[str, Any]:
        """DescribeDataQualityJobDefinition."""
        store = self._backend.job_definitions.stores[DATA_QUALITY]
        return store.describe(params.get("JobDefinitionName", ""))

    def delete_data_quality_job_definition(self, params: dict[str, Any]) -> dict[str, Any]:
        """DeleteDataQualityJobDefinition."""
        name = params.get("JobDefinitionName", "")
        self._backend.monitoring_schedules.delete_definition(DATA_QUALITY, name)
        return {}

    def list_data_quality_job_definitions(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListDataQualityJobDefinitions."""
        return self._backend.job_definitions.list(DATA_QUALITY, params)

    def create_model_quality_job_definition(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateModelQualityJobDefinition."""
        made = self._backend.monitoring_schedules.create_definition(MODEL_QUALITY, params)
        return {"JobDefinitionArn": made.arn}

    def describe_model_quality_job_definition(self, params: dict[str, Any]) -> dict[str, Any]:
        """DescribeModelQualityJobDefinition."""
        store = self._backend.job_definitions.stores[MODEL_QUALITY]
        return store.describe(params.get("JobDefinitionName", ""))

    def delete_model_quality_job_definition(self, params: dict[str, Any]) -> dict[str, Any]:
        """DeleteModelQualityJobDefinition."""
        name = params.get("JobDefinitionName", "")
        self._backend.monitoring_schedules.delete_definition(MODEL_QUALITY, name)
        return {}

    def list_model_quality_job_definitions(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListModelQualityJobDefinitions."""
        return self._backend.job_definitions.list(MODEL_QUALITY, params)

    # --- models ----------------------------------------------------------------------------
    def create_model(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateModel."""
        return {"ModelArn": self._backend.hosting.create_model(params).arn}

    def describe_model(self, params: dict[str, Any]) -> dict[str, Any]:
        """DescribeModel."""
        return self._backend.hosting.models.describe(params.get("ModelName", ""))

    def delete_model(self, params: dict[str, Any]) -> dict[str, Any]:
        """DeleteModel."""
        self._backend.hosting.models.remove(params.get("ModelName", ""))
        return {}

    def list_models(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListModels."""
        return self._backend.hosting.models.list(params)

    # --- endpoint configurations -------------------------------------------------------------
    def create_endpoint_config(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateEndpointConfig."""
        return {"EndpointConfigArn": self._backend.hosting.create_endpoint_config(params).arn}

    def describe_endpoint_config(self, params: dict[str, Any]) -> dict[str, Any]:
        """DescribeEndpointConfig."""
        name = params.get("EndpointConfigName", "")
        return self._backend.hosting.endpoint_configs.describe(name)

    def delete_endpoint_config(self, params: dict[str, Any]) -> dict[str, Any]:
        """DeleteEndpointConfig."""
        self._backend.hosting.endpoint_configs.remove(params.get("EndpointConfigName", ""))
        return {}

    def list_endpoint_configs(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListEndpointConfigs."""
        return self._backend.hosting.endpoint_configs.list(params)

    # --- endpoints -------------------------------------------------------------------------
    def create_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateEndpoint."""
        return {"EndpointArn": self._backend.endpoints.create(params).arn}

    def describe_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        """DescribeEndpoint."""
        return self._backend.endpoints.store.describe(params.get("EndpointName", ""))

    def update_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        """UpdateEndpoint."""
        return {"EndpointArn": self._backend.endpoints.update(params).arn}

    def update_endpoint_weights_and_capacities(self, params: dict[str, Any]) -> dict[str, Any]:
        """UpdateEndpointWeightsAndCapacities."""
        return {"EndpointArn": self._backend.endpoints.update_weights_and_capacities(params).arn}

    def delete_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        """DeleteEndpoint."""
        self._backend.endpoints.delete(params.get("EndpointName", ""))
        return {}

    def list_endpoints(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListEndpoints."""
        return self._backend.endpoints.store.list(params)

    # --- model registry: groups and their versioned model packages ------------------------
    def create_model_package_group(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateModelPackageGroup."""
        return {"ModelPackageGroupArn": self._backend.registry.create_group(params).arn}

    def describe_model_package_group(self, params: dict[str, Any]) -> dict[str, Any]:
        """DescribeModelPackageGroup."""
        return self._backend.registry.group(params["ModelPackageGroupName"]).describe()

    def list_model_package_groups(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListModelPackageGroups."""
        return self._backend.registry.list_groups(params)

    def delete_model_package_group(self, params: dict[str, Any]) -> dict[str, Any]:
        """DeleteModelPackageGroup."""
        self._backend.registry.delete_group(params["ModelPackageGroupName"])
        return {}

    def create_model_package(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateModelPackage."""
        return {"ModelPackageArn": self._backend.registry.create_package(params).arn}

    def describe_model_package(self, params: dict[str, Any]) -> dict[str, Any]:
        """DescribeModelPackage."""
        return self._backend.registry.package(params["ModelPackageName"]).describe()

    def list_model_packages(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListModelPackages."""
        return self._backend.registry.list_packages(params)

    def update_model_package(self, params: dict[str, Any]) -> dict[str, Any]:
        """UpdateModelPackage."""
        return {"ModelPackageArn": self._backend.registry.update_package(params).arn}

    def delete_model_package(self, params: dict[str, Any]) -> dict[str, Any]:
        """DeleteModelPackage."""
        self._backend.registry.delete_package(params["ModelPackageName"])
        return {}

    # --- tags, of every resource ---------------------------------------------------------------
    def add_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        """AddTags."""
        return {"Tags": self._backend.tags.add(params["ResourceArn"], params["Tags"])}

    def list_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListTags."""
        return self._backend.tags.list(params["ResourceArn"], params)

    def delete_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        """DeleteTags."""
        self._backend.tags.delete(params["ResourceArn"], params["TagKeys"])
        return {}


def invoke_endpoint(
    backend: LocalSageMaker, params: Mapping[str, Any], received: float
) -> tuple[dict[str, str], bytes]:
    """InvokeEndpoint (SageMaker Runtime), on validated input members."""
    invocation = _invoke(backend, params, received)
    returned = {
        wire: invocation.headers[wire.lower()]
        for wire in RETURNED_HEADERS
        if wire.lower() in invocation.headers
    }
    returned["x-Amzn-Invoked-Production-Variant"] = invocation.variant
    return returned, invocation.body


def invoke_endpoint_with_response_stream(
    backend: LocalSageMaker, params: Mapping[str, Any], received: float
) -> tuple[dict[str, str], bytes]:
    """InvokeEndpointWithResponseStream: the container's whole answer as one PayloadPart."""
    invocation = _invoke(backend, params, received)
    returned = {"Content-Type": eventstream.CONTENT_TYPE}
    for wire, header in (
        ("X-Amzn-SageMaker-Content-Type", "content-type"),
        ("X-Amzn-SageMaker-Custom-Attributes", "x-amzn-sagemaker-custom-attributes"),
    ):
        if header in invocation.headers:
            returned[wire] = invocation.headers[header]
    returned["x-Amzn-Invoked-Production-Variant"] = invocation.variant
    return returned, eventstream.event("PayloadPart", invocation.body)


def _invoke(backend: LocalSageMaker, params: Mapping[str, Any], received: float) -> Invocation:
    forwarded = {
        wire: params[member] for member, wire in FORWARDED_HEADERS.items() if member in params
    }
    return backend.endpoints.invoke(
        params["EndpointName"], params["Body"], forwarded, received, params.get("InferenceId")
    )
