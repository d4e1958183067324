"""Models and endpoint configurations: plain records with SageMaker's validation rules, no HTTP."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from localcloud.sagemaker.common import arn, list_page
from localcloud.sagemaker.containers import check_environment
from localcloud.sagemaker.exceptions import ValidationException
from localcloud.sagemaker.layout import ImageNotFound, StateLayout
from localcloud.sagemaker.storage import S3Storage, StorageError, parse_s3_uri


@dataclass
class Model:
    """A CreateModel request as stored."""

    name: str
    request: dict[str, Any]
    created: float = field(default_factory=time.time)

    @property
    def arn(self) -> str:
        """ModelArn."""
        return arn("model", self.name)

    @property
    def container(self) -> dict[str, Any]:
        """The one container this model runs (PrimaryContainer, or the single Containers entry)."""
        return self.request.get("PrimaryContainer") or self.request["Containers"][0]

    def describe(self) -> dict[str, Any]:
        """The DescribeModel response."""
        out = {
            key: self.request[key]
            for key in (
                "PrimaryContainer",
                "Containers",
                "ExecutionRoleArn",
                "VpcConfig",
                "EnableNetworkIsolation",
            )
            if key in self.request
        }
        out.setdefault("EnableNetworkIsolation", False)
        return {"ModelName": self.name, "ModelArn": self.arn, "CreationTime": self.created, **out}

    def summary(self) -> dict[str, Any]:
        """The model's entry in ListModels."""
        return {"ModelName": self.name, "ModelArn": self.arn, "CreationTime": self.created}


@dataclass
class EndpointConfig:
    """A CreateEndpointConfig request as stored."""

    name: str
    request: dict[str, Any]
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
            for key in ("ProductionVariants", "DataCaptureConfig", "KmsKeyId")
            if key in self.request
        }
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


def model_not_found(name: str) -> ValidationException:
    """SageMaker's answer for an unknown model."""
    return ValidationException(f'Could not find model "{arn("model", name)}".')


def endpoint_config_not_found(name: str) -> ValidationException:
    """SageMaker's answer for an unknown endpoint configuration."""
    return ValidationException(
        f'Could not find endpoint configuration "{arn("endpoint-config", name)}".'
    )


class Hosting:
    """The models and endpoint configurations of this local SageMaker."""

    def __init__(self, layout: StateLayout, storage: S3Storage, lock: threading.RLock) -> None:
        self._layout = layout
        self._storage = storage
        self._lock = lock
        self._models: dict[str, Model] = {}
        self._configs: dict[str, EndpointConfig] = {}

    # --- models ----------------------------------------------------------------------------
    def create_model(self, params: dict[str, Any]) -> Model:
        """CreateModel: the image must have a snapshot and the model data must exist in S3."""
        name = params["ModelName"]
        containers = params.get("Containers") or []
        if "PrimaryContainer" not in params and len(containers) != 1:
            raise ValidationException(
                "The local SageMaker runs exactly one container per model: "
                "give PrimaryContainer (or a single entry in Containers)"
            )
        model = Model(name, params)
        container = model.container
        where = "primaryContainer" if "PrimaryContainer" in params else "containers.1.member"
        check_environment(container.get("Environment", {}), f"{where}.environment")
        try:
            self._layout.resolve_image(container.get("Image", ""), "serve")
        except ImageNotFound as error:
            raise ValidationException(str(error)) from None
        if data_url := container.get("ModelDataUrl"):
            self._check_model_data(data_url)
        with self._lock:
            if name in self._models:
                raise ValidationException(f'Cannot create already existing model "{model.arn}".')
            self._models[name] = model
        return model

    def _check_model_data(self, url: str) -> None:
        try:
            bucket, key = parse_s3_uri(url)
            self._storage.client.head_object(Bucket=bucket, Key=key)
        except (StorageError, ClientError, BotoCoreError) as error:
            raise ValidationException(f"Could not find model data at {url}.") from error

    def model(self, name: str) -> Model:
        """The model, or SageMaker's ValidationException."""
        with self._lock:
            model = self._models.get(name)
        if model is None:
            raise model_not_found(name)
        return model

    def delete_model(self, name: str) -> None:
        """DeleteModel (endpoints already running it keep running, as in SageMaker)."""
        with self._lock:
            if self._models.pop(name, None) is None:
                raise model_not_found(name)

    def list_models(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListModels."""
        with self._lock:
            summaries = [model.summary() for model in self._models.values()]
        page, token = list_page(
            summaries,
            params,
            name_key="ModelName",
            status_key=None,
            sort_keys={"Name": "ModelName", "CreationTime": "CreationTime"},
        )
        return {"Models": page, **({"NextToken": token} if token else {})}

    # --- endpoint configurations -------------------------------------------------------------
    def create_endpoint_config(self, params: dict[str, Any]) -> EndpointConfig:
        """CreateEndpointConfig: one production variant whose model exists."""
        name = params["EndpointConfigName"]
        variants = params.get("ProductionVariants") or []
        if len(variants) != 1:
            raise ValidationException(
                "The local SageMaker serves exactly one production variant per endpoint "
                f"configuration; got {len(variants)}"
            )
        self.model(variants[0]["ModelName"])
        config = EndpointConfig(name, params)
        with self._lock:
            if name in self._configs:
                raise ValidationException(
                    f'Cannot create already existing endpoint configuration "{config.arn}".'
                )
            self._configs[name] = config
        return config

    def endpoint_config(self, name: str) -> EndpointConfig:
        """The configuration, or SageMaker's ValidationException."""
        with self._lock:
            config = self._configs.get(name)
        if config is None:
            raise endpoint_config_not_found(name)
        return config

    def delete_endpoint_config(self, name: str) -> None:
        """DeleteEndpointConfig (endpoints using it keep running, as in SageMaker)."""
        with self._lock:
            if self._configs.pop(name, None) is None:
                raise endpoint_config_not_found(name)

    def list_endpoint_configs(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListEndpointConfigs."""
        with self._lock:
            summaries = [config.summary() for config in self._configs.values()]
        page, token = list_page(
            summaries,
            params,
            name_key="EndpointConfigName",
            status_key=None,
            sort_keys={"Name": "EndpointConfigName", "CreationTime": "CreationTime"},
        )
        return {"EndpointConfigs": page, **({"NextToken": token} if token else {})}
