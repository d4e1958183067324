"""Endpoints: status rules for create, update (no failed request), delete, and invocation.

Creating/Updating bring a new deployment up on a thread; traffic switches to it only once it
answers GET /ping, then the old one drains and stops. A failed update leaves the endpoint
InService on the old deployment with FailureReason set, as SageMaker's rollback does. No HTTP
parsing here: `invoke` takes and returns plain values, and counts each request for the
endpoint's CloudWatch metrics (`metrics`).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from localcloud.constants import ACCOUNT_ID, REGION
from localcloud.processes import ProcessRegistry
from localcloud.sagemaker.capture import CaptureWriter
from localcloud.sagemaker.clients import AwsClients
from localcloud.sagemaker.common import FAILURE_REASON_LIMIT, Settings, arn
from localcloud.sagemaker.exceptions import (
    ModelError,
    ServiceUnavailable,
    ValidationError,
    ValidationException,
)
from localcloud.sagemaker.hosting import EndpointConfig, Hosting, Model
from localcloud.sagemaker.layout import StateLayout
from localcloud.sagemaker.logs import endpoint_log_group, log_group_arn
from localcloud.sagemaker.metrics import EndpointMetrics
from localcloud.sagemaker.serving import (
    ContainerUnreachable,
    Deployment,
    DeploymentCancelled,
    DeploymentFailed,
    Instance,
    NoInstance,
)
from localcloud.sagemaker.storage import S3Storage
from localcloud.sagemaker.store import Kind, ResourceStore
from localcloud.sagemaker.tags import TagStore

DEFAULT_CONTENT_TYPE = "application/octet-stream"  # a body sent or answered without a type
ENDPOINT = Kind(
    "endpoint",
    "endpoint",
    "EndpointName",
    "Endpoints",
    status_key="EndpointStatus",
    # Unlike the other resources, SageMaker names an unknown endpoint by name, not ARN.
    not_found=lambda name: ValidationException(f'Could not find endpoint "{name}".'),
)


@dataclass
class Invocation:
    """The container's answer (header names lower-case) and the variant that gave it."""

    body: bytes
    headers: dict[str, str]
    variant: str


@dataclass
class Endpoint:
    """One endpoint: what DescribeEndpoint shows and the deployments behind it."""

    name: str
    config: EndpointConfig
    created: float = field(default_factory=time.time)
    status: str = "Creating"
    failure_reason: str | None = None
    modified: float = 0.0
    active: Deployment | None = None
    pending: Deployment | None = None
    deployments_started: int = 0

    def __post_init__(self) -> None:
        self.modified = self.created

    @property
    def arn(self) -> str:
        """EndpointArn."""
        return arn("endpoint", self.name)

    def set_status(self, status: str, failure_reason: str | None) -> None:
        """Change status and FailureReason together, stamping LastModifiedTime."""
        self.status = status
        self.failure_reason = failure_reason
        self.modified = time.time()

    def describe(self) -> dict[str, Any]:
        """The DescribeEndpoint response."""
        out: dict[str, Any] = {
            "EndpointName": self.name,
            "EndpointArn": self.arn,
            "EndpointConfigName": self.config.name,
            "EndpointStatus": self.status,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
        }
        if self.active is not None:
            out["ProductionVariants"] = [_variant_summary(self.active)]
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        capture = self.config.request.get("DataCaptureConfig")
        if capture:
            out["DataCaptureConfig"] = {
                "EnableCapture": capture.get("EnableCapture", True),
                "CaptureStatus": "Started" if capture.get("EnableCapture", True) else "Stopped",
                "CurrentSamplingPercentage": capture.get("InitialSamplingPercentage", 100),
                "DestinationS3Uri": capture.get("DestinationS3Uri", ""),
                "KmsKeyId": capture.get("KmsKeyId", ""),
            }
        if self.pending is not None:
            out["PendingDeploymentSummary"] = {
                "EndpointConfigName": self.pending.config.name,
                "ProductionVariants": [_variant_summary(self.pending)],
                "StartTime": self.pending.started,
            }
        return out

    def summary(self) -> dict[str, Any]:
        """The endpoint's entry in ListEndpoints."""
        return {
            "EndpointName": self.name,
            "EndpointArn": self.arn,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "EndpointStatus": self.status,
        }


def _variant_summary(deployment: Deployment) -> dict[str, Any]:
    variant = deployment.config.variant
    count = variant.get("InitialInstanceCount", 1)
    weight = variant.get("InitialVariantWeight", 1.0)
    running = count if deployment.instance is not None else 0  # 0 while one is replaced
    return {
        "VariantName": deployment.variant_name,
        "DeployedImages": [
            {
                "SpecifiedImage": deployment.image,
                "ResolvedImage": deployment.image,
                "ResolutionTime": deployment.started,
            }
        ],
        "CurrentWeight": weight,
        "DesiredWeight": weight,
        "CurrentInstanceCount": running,
        "DesiredInstanceCount": count,
    }


class Endpoints:
    """All endpoints of this local SageMaker."""

    def __init__(
        self,
        layout: StateLayout,
        storage: S3Storage,
        hosting: Hosting,
        python: str,
        settings: Settings,
        lock: threading.RLock,
        registry: ProcessRegistry,
        tags: TagStore,
        clients: AwsClients,
    ) -> None:
        self._layout = layout
        self._clients = clients
        self.metrics = EndpointMetrics(clients)
        self._registry = registry
        self._storage = storage
        self._hosting = hosting
        self._python = python
        self._settings = settings
        self._lock = lock
        self.store: ResourceStore[Endpoint] = ResourceStore(ENDPOINT, lock, tags)

    # --- control plane ---------------------------------------------------------------------
    def create(self, params: dict[str, Any]) -> Endpoint:
        """CreateEndpoint: status Creating, then InService or Failed."""
        name = params["EndpointName"]
        config = self._hosting.endpoint_configs.get(params["EndpointConfigName"])
        with self._lock:
            # Validated under the lock, so a concurrent delete cannot slip in between.
            model = self._hosting.models.get(config.variant["ModelName"])
            endpoint = self.store.add(Endpoint(name, config), params.get("Tags", []))
            shutil.rmtree(self._layout.endpoint_dir(name), ignore_errors=True)
            deployment = self._begin(endpoint, config, model)
        self._launch(endpoint, deployment)
        return endpoint

    def update(self, params: dict[str, Any]) -> Endpoint:
        """UpdateEndpoint: status Updating; the old deployment serves until the new one is up."""
        name = params.get("EndpointName", "")
        config = self._hosting.endpoint_configs.get(params.get("EndpointConfigName", ""))
        with self._lock:
            endpoint = self.store.get(name)
            if endpoint.status not in {"InService", "Failed"}:
                raise ValidationException(f'Cannot update in-progress endpoint "{endpoint.arn}".')
            model = self._hosting.models.get(config.variant["ModelName"])
            endpoint.set_status("Updating", endpoint.failure_reason)
            deployment = self._begin(endpoint, config, model)
        self._launch(endpoint, deployment)
        return endpoint

    def delete(self, name: str) -> None:
        """DeleteEndpoint: stops its serve processes before answering, so the ports are free."""
        with self._lock:
            endpoint = self.store.remove(name)
            deployments = [d for d in (endpoint.active, endpoint.pending) if d is not None]
            endpoint.active = endpoint.pending = None
            endpoint.set_status("Deleting", None)
        for deployment in deployments:
            deployment.send_stop()
        for deployment in deployments:
            deployment.stop()

    def shutdown(self) -> None:
        """Stop every serve process (all signalled first, then waited for)."""
        with self._lock:
            endpoints = [self.store.remove(endpoint.name) for endpoint in self.store.all()]
            deployments = [d for e in endpoints for d in (e.active, e.pending) if d is not None]
        for deployment in deployments:
            deployment.send_stop()
        for deployment in deployments:
            deployment.stop()
        self.metrics.close()

    # --- deployments -----------------------------------------------------------------------
    def _begin(self, endpoint: Endpoint, config: EndpointConfig, model: Model) -> Deployment:
        """A new deployment, registered as the endpoint's pending one (caller holds the lock)."""
        endpoint.deployments_started += 1
        base_dir = self._layout.endpoint_dir(endpoint.name) / f"{endpoint.deployments_started:04d}"
        capture = None
        if config.capture is not None:
            capture = CaptureWriter(
                config.capture,
                self._storage,
                endpoint.name,
                config.variant["VariantName"],
                self._settings.capture_flush_seconds,
            )
        deployment = Deployment(
            endpoint.name, base_dir, config, model, self._registry, self._clients, capture
        )
        endpoint.pending = deployment
        return deployment

    def _launch(self, endpoint: Endpoint, deployment: Deployment) -> None:
        threading.Thread(
            target=self._deploy,
            args=(endpoint, deployment),
            name=f"deploy-{endpoint.name}",
            daemon=True,
        ).start()

    def _deploy(self, endpoint: Endpoint, deployment: Deployment) -> None:
        try:
            deployment.start(
                self._layout,
                self._storage,
                self._python,
                self._settings,
                on_exit=self._exit_handler(endpoint, deployment),
            )
        except DeploymentCancelled:
            deployment.stop()
            return
        except DeploymentFailed as failure:
            deployment.stop()
            self._deployment_failed(endpoint, deployment, str(failure))
            return
        except Exception as error:  # an endpoint must end visibly, whatever broke
            deployment.stop()
            self._deployment_failed(
                endpoint, deployment, f"InternalServerError: {type(error).__name__}: {error}"
            )
            return
        with self._lock:
            current = endpoint.pending is deployment
            previous = endpoint.active if current else None
            if current:
                endpoint.active, endpoint.pending = deployment, None
                endpoint.config = deployment.config
                endpoint.set_status("InService", None)
        if not current:  # deleted while starting
            deployment.stop()
        elif previous is not None:
            previous.retire(self._settings.drain_timeout)

    def _deployment_failed(self, endpoint: Endpoint, deployment: Deployment, reason: str) -> None:
        with self._lock:
            if endpoint.pending is not deployment:
                return
            endpoint.pending = None
            # A failed update rolls back: still InService on the old deployment, reason shown.
            endpoint.set_status("InService" if endpoint.active else "Failed", reason)

    def _on_exit(self, endpoint: Endpoint, deployment: Deployment, instance: Instance) -> None:
        """A serve process ended; if it was serving and nobody stopped it, replace it."""
        reason = deployment.lose(instance)
        if reason is None:
            return
        # Not on this thread: it is the process's own watcher, which must return first.
        threading.Thread(
            target=self._replace,
            args=(endpoint, deployment, reason),
            name=f"replace-{endpoint.name}",
            daemon=True,
        ).start()

    def _replace(self, endpoint: Endpoint, deployment: Deployment, reason: str) -> None:
        """Start a new instance with a back-off, as SageMaker replaces an unhealthy one.

        The endpoint stays InService meanwhile; only when no new instance starts does it fail,
        with the reason the instance died and why the last replacement did not come up.
        """
        delay = self._settings.replacement_backoff
        last_failure = ""
        for _ in range(self._settings.replacement_attempts):
            if deployment.wait_stopping(delay):
                return
            try:
                deployment.start_instance(
                    self._python, self._settings, self._exit_handler(endpoint, deployment)
                )
                return
            except DeploymentCancelled:
                return
            except DeploymentFailed as failure:
                last_failure = str(failure)
            delay *= 2
        with self._lock:
            if endpoint.active is not deployment:
                return
            endpoint.active = None
            endpoint.set_status(
                "Updating" if endpoint.pending else "Failed",
                f"{reason} It could not be replaced: {last_failure}"[:FAILURE_REASON_LIMIT],
            )
        deployment.stop()

    def _exit_handler(
        self, endpoint: Endpoint, deployment: Deployment
    ) -> Callable[[Instance], None]:
        return lambda instance: self._on_exit(endpoint, deployment, instance)

    # --- runtime ---------------------------------------------------------------------------
    def invoke(
        self,
        name: str,
        body: bytes,
        headers: dict[str, str],
        received: float,
        inference_id: str | None = None,
    ) -> Invocation:
        """InvokeEndpoint: forward to the serving deployment; errors as SageMaker Runtime's.

        `received` is when the request arrived (`time.perf_counter()`), for OverheadLatency. An
        answered request is captured (inside the deployment's traffic count, so a retiring
        deployment writes it before it stops) when the endpoint config asks for capture.
        """
        endpoint = self.store.find(name)
        if endpoint is None:
            raise ValidationError(f"Endpoint {name} of account {ACCOUNT_ID} not found.")
        deployment = self._acquire(endpoint)
        sent = time.perf_counter()
        try:
            try:
                status, answer_headers, answer = deployment.forward(body, headers)
                if status < 400 and deployment.capture is not None:
                    deployment.capture.record(
                        (headers.get("Content-Type", DEFAULT_CONTENT_TYPE), body),
                        (answer_headers.get("content-type", DEFAULT_CONTENT_TYPE), answer),
                        inference_id,
                    )
            finally:
                deployment.release()
        except NoInstance:  # never reached a container: not an invocation
            raise _replacing(endpoint, deployment) from None
        except ContainerUnreachable as error:
            self._record(name, deployment, None, received, sent)
            raise _model_error(name, None, str(error)) from None
        self._record(name, deployment, status, received, sent)
        if status >= 400:
            raise _model_error(name, status, answer.decode(errors="replace"))
        return Invocation(answer, answer_headers, deployment.variant_name)

    def _record(
        self, name: str, deployment: Deployment, status: int | None, received: float, sent: float
    ) -> None:
        answered = time.perf_counter()
        model = answered - sent
        self.metrics.record(
            name, deployment.variant_name, status, model, answered - received - model
        )

    def _acquire(self, endpoint: Endpoint) -> Deployment:
        # At most a couple of rounds: acquire() fails only while traffic moves to a new deployment.
        for _ in range(3):
            deployment = endpoint.active
            if deployment is None or endpoint.status not in {"InService", "Updating"}:
                break
            if deployment.acquire():
                return deployment
        raise _not_in_service(endpoint)


def _replacing(endpoint: Endpoint, deployment: Deployment) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"Endpoint {endpoint.name} of account {ACCOUNT_ID}: the instance of production variant "
        f"{deployment.variant_name} is being replaced after its container exited. "
        "Try again shortly."
    )


def _not_in_service(endpoint: Endpoint) -> ValidationError:
    reason = f": {endpoint.failure_reason}" if endpoint.failure_reason else ""
    return ValidationError(
        f"Endpoint {endpoint.name} of account {ACCOUNT_ID} is not in service "
        f"(status {endpoint.status}){reason}"
    )


def _model_error(name: str, status: int | None, message: str) -> ModelError:
    kind = "client" if status is not None and status < 500 else "server"
    group = endpoint_log_group(name)
    console = (
        f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}"
        f"#logEventViewer:group={group}"
    )
    return ModelError(
        f'Received {kind} error ({status or 0}) from primary with message "{message}". '
        f"See {console} in account {ACCOUNT_ID} for more information.",
        original_status=status,
        original_message=message,
        log_stream_arn=log_group_arn(group),
    )
