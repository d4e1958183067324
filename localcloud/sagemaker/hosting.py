"""Models and endpoint configurations: plain records with SageMaker's validation rules, no HTTP."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from localcloud.sagemaker.capture import CapturePolicy
from localcloud.sagemaker.common import arn
from localcloud.sagemaker.containers import check_environment
from localcloud.sagemaker.exceptions import ValidationException
from localcloud.sagemaker.layout import ImageNotFound, StateLayout
from localcloud.sagemaker.model_registry import ModelRegistry
from localcloud.sagemaker.storage import S3Storage, StorageError, parse_s3_uri
from localcloud.sagemaker.store import Kind, ResourceStore
from localcloud.sagemaker.tags import TagStore


def _shown(container: dict[str, Any]) -> dict[str, Any]:
    """A container as DescribeModel shows it, with the defaults of the members left unset."""
    return {"Mode": "SingleModel", "Environment": {}, **container}


@dataclass
class Model:
    """A CreateModel request as stored."""

    name: str
    request: dict[str, Any]
    created: float = field(default_factory=time.time)
    package_container: dict[str, Any] | None = None  # what a ModelPackageName resolved to

    @property
    def arn(self) -> str:
        """ModelArn."""
        return arn("model", self.name)

    @property
    def requested(self) -> dict[str, Any]:
        """The one container of the request (PrimaryContainer, or the single Containers entry)."""
        return self.request.get("PrimaryContainer") or self.request["Containers"][0]

    @property
    def container(self) -> dict[str, Any]:
        """The one container this model runs: the request's, or its model package's."""
        return self.package_container or self.requested

    def describe(self) -> dict[str, Any]:
        """The DescribeModel response."""
        out = {
            key: self.request[key]
            for key in (
                "PrimaryContainer",
                "Containers",
                "ExecutionRoleArn",
                "EnableNetworkIsolation",
            )
            if key in self.request
        }
        out.setdefault("EnableNetworkIsolation", False)
        if "PrimaryContainer" in out:
            out["PrimaryContainer"] = _shown(out["PrimaryContainer"])
        if "Containers" in out:
            out["Containers"] = [_shown(container) for container in out["Containers"]]
        return {"ModelName": self.name, "ModelArn": self.arn, "CreationTime": self.created, **out}

    def summary(self) -> dict[str, Any]:
        """The model's entry in ListModels."""
        return {"ModelName": self.name, "ModelArn": self.arn, "CreationTime": self.created}


@dataclass
class EndpointConfig:
    """A CreateEndpointConfig request as stored."""

    name: str
    request: dict[str, Any]
    capture: CapturePolicy | None = None
    created: float = field(default_factory=time.time)

    @property
    def arn(self) -> str:
        """EndpointConfigArn."""
        return arn("endpoint-config", self.name)

    @property
    def variant(self) -> dict[str, Any]:
        """The one production variant this config defines."""
        return self.request["ProductionVariants"][0]

    def describe(self) -> dict[str, Any]:
        """The DescribeEndpointConfig response."""
        out = {
            key: self.request[key]
            for key in ("ProductionVariants", "DataCaptureConfig")
            if key in self.request
        }
        out["ProductionVariants"] = [
            {"InitialVariantWeight": 1.0, **variant} for variant in out["ProductionVariants"]
        ]
        out.setdefault("EnableNetworkIsolation", False)
        return {
            "EndpointConfigName": self.name,
            "EndpointConfigArn": self.arn,
            "CreationTime": self.created,
            **out,
        }

    def summary(self) -> dict[str, Any]:
        """The config's entry in ListEndpointConfigs."""
        return {
            "EndpointConfigName": self.name,
            "EndpointConfigArn": self.arn,
            "CreationTime": self.created,
        }


MODEL = Kind("model", "model", "ModelName", "Models")
ENDPOINT_CONFIG = Kind(
    "endpoint-config", "endpoint configuration", "EndpointConfigName", "EndpointConfigs"
)


class Hosting:
    """The models and endpoint configurations of this local SageMaker."""

    def __init__(
        self,
        layout: StateLayout,
        storage: S3Storage,
        lock: threading.RLock,
        tags: TagStore,
        registry: ModelRegistry,
    ) -> None:
        self._layout = layout
        self._storage = storage
        self._registry = registry
        self.models: ResourceStore[Model] = ResourceStore(MODEL, lock, tags)
        self.endpoint_configs: ResourceStore[EndpointConfig] = ResourceStore(
            ENDPOINT_CONFIG, lock, tags
        )

    def create_model(self, params: dict[str, Any]) -> Model:
        """CreateModel: the image must have a snapshot and the model data must exist in S3."""
        containers = params.get("Containers") or []
        if "PrimaryContainer" not in params and len(containers) != 1:
            raise ValidationException(
                "The local SageMaker runs exactly one container per model: "
                "give PrimaryContainer (or a single entry in Containers)"
            )
        model = Model(params["ModelName"], params)
        where = "primaryContainer" if "PrimaryContainer" in params else "containers.1.member"
        check_environment(model.requested.get("Environment", {}), f"{where}.environment")
        if "ModelPackageName" in model.requested:
            model.package_container = self._from_package(model.requested)
        container = model.container
        try:
            self._layout.resolve_image(container.get("Image", ""), "serve")
        except ImageNotFound as error:
            raise ValidationException(str(error)) from None
        if data_url := container.get("ModelDataUrl"):
            self._check_model_data(data_url)
        return self.models.add(model, params.get("Tags", []))

    def _from_package(self, requested: dict[str, Any]) -> dict[str, Any]:
        """The Approved version's container, with the request's Environment over its own."""
        given = sorted({"Image", "ModelDataUrl"} & set(requested))
        if given:
            raise ValidationException(
                f"A container with ModelPackageName cannot also give {' or '.join(given)}: the "
                "image and model data are the model package's"
            )
        container = self._registry.approved_container(requested["ModelPackageName"])
        environment = {**container.get("Environment", {}), **requested.get("Environment", {})}
        check_environment(environment, "modelPackage.inferenceSpecification.containers.1.member")
        return {**container, "Environment": environment}

    def _check_model_data(self, url: str) -> None:
        try:
            bucket, key = parse_s3_uri(url)
            self._storage.client.head_object(Bucket=bucket, Key=key)
        except (StorageError, ClientError, BotoCoreError) as error:
            raise ValidationException(f"Could not find model data at {url}.") from error

    def create_endpoint_config(self, params: dict[str, Any]) -> EndpointConfig:
        """CreateEndpointConfig: one production variant whose model exists, capture checked."""
        variants = params.get("ProductionVariants") or []
        if len(variants) != 1:
            raise ValidationException(
                "The local SageMaker serves exactly one production variant per endpoint "
                f"configuration; got {len(variants)}"
            )
        self.models.get(variants[0]["ModelName"])
        capture = CapturePolicy.from_config(params.get("DataCaptureConfig"))
        config = EndpointConfig(params["EndpointConfigName"], params, capture)
        return self.endpoint_configs.add(config, params.get("Tags", []))
