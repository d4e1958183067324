"""Endpoints: status rules for create, update (no failed request), scaling, delete, invocation.

Creating/Updating bring a new deployment (fleet) up on a thread; with no DeploymentConfig,
traffic switches to it only once every instance answers GET /ping, then the old one drains and
stops. With a blue/green DeploymentConfig the new fleet takes traffic in the steps of its plan
(`guardrails`), baking after each while the rollback alarms are watched, and an alarm in ALARM
sends all traffic back. A failed or rolled-back update leaves the endpoint InService on the old
deployment with FailureReason set, as SageMaker does. UpdateEndpointWeightsAndCapacities starts
or drains instances of the serving fleet. No HTTP parsing here: `invoke` takes and returns plain
values, and counts each request for the endpoint's CloudWatch metrics (`metrics`).
"""

from __future__ import annotations

import itertools
import logging
import math
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
from localcloud.sagemaker.guardrails import RolloutPlan, plan_update
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

LOG = logging.getLogger("localcloud.sagemaker")
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


RETAINED_PROPERTIES = frozenset({"DesiredInstanceCount", "DesiredWeight", "DataCaptureConfig"})


class RolledBack(Exception):
    """A blue/green update was rolled back; the message is the endpoint's FailureReason."""


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
    green_share: float = 0.0  # the share of requests the pending fleet takes while it bakes
    pending_status: dict[str, Any] | None = None  # its VariantStatus entry during a rollout
    last_deployment_config: dict[str, Any] | None = None
    routed: itertools.count = field(default_factory=itertools.count)  # requests routed so far

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
        serving = self.active or self.pending
        capture = (serving.capture_source if serving else self.config).request.get(
            "DataCaptureConfig"
        )
        if capture:
            out["DataCaptureConfig"] = {
                "EnableCapture": capture.get("EnableCapture", True),
                "CaptureStatus": "Started" if capture.get("EnableCapture", True) else "Stopped",
                "CurrentSamplingPercentage": capture.get("InitialSamplingPercentage", 100),
                "DestinationS3Uri": capture.get("DestinationS3Uri", ""),
                "KmsKeyId": capture.get("KmsKeyId", ""),
            }
        if self.pending is not None:
            pending = _variant_summary(self.pending)
            pending["InstanceType"] = self.pending.config.variant.get("InstanceType", "")
            if self.pending_status is not None:
                pending["VariantStatus"] = [self.pending_status]
            out["PendingDeploymentSummary"] = {
                "EndpointConfigName": self.pending.config.name,
                "ProductionVariants": [pending],
                "StartTime": self.pending.started,
            }
        if self.last_deployment_config is not None:
            out["LastDeploymentConfig"] = self.last_deployment_config
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
    return {
        "VariantName": deployment.variant_name,
        "DeployedImages": [
            {
                "SpecifiedImage": deployment.image,
                "ResolvedImage": deployment.image,
                "ResolutionTime": deployment.started,
            }
        ],
        "CurrentWeight": deployment.weight,
        "DesiredWeight": deployment.weight,
        "CurrentInstanceCount": deployment.current_count,
        "DesiredInstanceCount": deployment.desired_count,
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
        """UpdateEndpoint: status Updating; the old deployment serves until the new one is up,
        and with a blue/green DeploymentConfig shares the traffic with it as the plan says."""
        name = params.get("EndpointName", "")
        config = self._hosting.endpoint_configs.get(params.get("EndpointConfigName", ""))
        retained = _retained(params)
        with self._lock:
            endpoint = self.store.get(name)
            if endpoint.status not in {"InService", "Failed"}:
                raise ValidationException(f'Cannot update in-progress endpoint "{endpoint.arn}".')
            model = self._hosting.models.get(config.variant["ModelName"])
            blue = endpoint.active
            deployment_config = params.get("DeploymentConfig")
            if deployment_config is None and params.get("RetainDeploymentConfig"):
                deployment_config = endpoint.last_deployment_config
            count = config.variant.get("InitialInstanceCount", 1)
            if blue is not None and "DesiredInstanceCount" in retained:
                count = blue.desired_count
            plan = plan_update(deployment_config, count) if blue is not None else None
        if plan is not None:
            self._check_guardrails(plan, blue, config)
        with self._lock:
            if endpoint.status not in {"InService", "Failed"} or endpoint.active is not blue:
                raise ValidationException(f'Cannot update in-progress endpoint "{endpoint.arn}".')
            endpoint.set_status("Updating", endpoint.failure_reason)
            if deployment_config is not None:
                endpoint.last_deployment_config = deployment_config
            keeps = blue is not None and "DataCaptureConfig" in retained
            deployment = self._begin(
                endpoint, config, model, count, blue.capture_source if keeps else config
            )
            if blue is not None and "DesiredWeight" in retained:
                deployment.weight = blue.weight
        self._launch(endpoint, deployment, plan)
        return endpoint

    def _check_guardrails(
        self, plan: RolloutPlan, blue: Deployment | None, config: EndpointConfig
    ) -> None:
        """What SageMaker checks of a blue/green update before it starts."""
        if blue is not None and blue.variant_name != config.variant["VariantName"]:
            raise ValidationException(
                "A deployment with a DeploymentConfig must keep the variant names: the endpoint "
                f"serves variant {blue.variant_name}, endpoint configuration {config.name} has "
                f"{config.variant['VariantName']}"
            )
        if not plan.alarms:
            return
        found = self._clients.client("cloudwatch").describe_alarms(AlarmNames=list(plan.alarms))
        known = {a["AlarmName"] for a in found["MetricAlarms"] + found["CompositeAlarms"]}
        if missing := [name for name in plan.alarms if name not in known]:
            raise ValidationException(
                f"The AutoRollbackConfiguration alarm(s) {', '.join(missing)} do not exist in "
                f"account {ACCOUNT_ID} in {REGION}"
            )

    def update_weights_and_capacities(self, params: dict[str, Any]) -> Endpoint:
        """UpdateEndpointWeightsAndCapacities: Updating while instances start or drain."""
        name = params.get("EndpointName", "")
        wanted = params.get("DesiredWeightsAndCapacities", [])
        with self._lock:
            endpoint = self.store.get(name)
            if endpoint.status != "InService" or endpoint.active is None:
                raise ValidationException(f'Cannot update in-progress endpoint "{endpoint.arn}".')
            deployment = endpoint.active
            count = _desired_capacity(endpoint, deployment, wanted)
            for entry in wanted:
                if "DesiredWeight" in entry:
                    deployment.weight = float(entry["DesiredWeight"])
            endpoint.set_status("Updating", None)
            previous, deployment.desired_count = deployment.desired_count, count
        _in_background(f"scale-{endpoint.name}", self._scale, endpoint, deployment, previous)
        return endpoint

    def _scale(self, endpoint: Endpoint, deployment: Deployment, previous: int) -> None:
        """Bring the serving fleet to its desired count; if instances cannot start, back to
        `previous`, InService with the reason (SageMaker's RollingBack ends so)."""
        try:
            deployment.scale_to(
                deployment.desired_count,
                self._python,
                self._settings,
                self._exit_handler(endpoint, deployment),
            )
            reason = None
        except DeploymentCancelled:
            return
        except DeploymentFailed as failure:
            deployment.desired_count = previous
            reason = f"Scaling to {deployment.desired_count} instance(s) failed: {failure}"
            reason = reason[:FAILURE_REASON_LIMIT]
        with self._lock:
            if endpoint.active is deployment and endpoint.status == "Updating":
                endpoint.set_status("InService", reason)

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
    def _begin(
        self,
        endpoint: Endpoint,
        config: EndpointConfig,
        model: Model,
        count: int | None = None,
        capture_source: EndpointConfig | None = None,
    ) -> Deployment:
        """A new deployment, registered as the endpoint's pending one (caller holds the lock),
        capturing as `capture_source` says (default: its own configuration)."""
        endpoint.deployments_started += 1
        base_dir = self._layout.endpoint_dir(endpoint.name) / f"{endpoint.deployments_started:04d}"
        source = capture_source or config
        capture = None
        if source.capture is not None:
            capture = CaptureWriter(
                source.capture,
                self._storage,
                endpoint.name,
                config.variant["VariantName"],
                self._settings.capture_flush_seconds,
            )
        deployment = Deployment(
            endpoint.name, base_dir, config, model, self._registry, self._clients, capture, count
        )
        deployment.capture_source = source
        endpoint.pending = deployment
        endpoint.pending_status = None
        return deployment

    def _launch(
        self, endpoint: Endpoint, deployment: Deployment, plan: RolloutPlan | None = None
    ) -> None:
        _in_background(f"deploy-{endpoint.name}", self._deploy, endpoint, deployment, plan)

    def _deploy(self, endpoint: Endpoint, deployment: Deployment, plan: RolloutPlan | None) -> None:
        first = plan.steps[0].instances if plan is not None else deployment.desired_count
        self._variant_status(endpoint, deployment, "Creating", f"Launching {first} instance(s).")
        try:
            deployment.start(
                self._layout,
                self._storage,
                self._python,
                self._settings,
                on_exit=self._exit_handler(endpoint, deployment),
                count=first,
            )
            if plan is not None:
                self._roll_out(endpoint, deployment, plan)
        except DeploymentCancelled:
            deployment.stop()
            return
        except RolledBack as rollback:
            self._roll_back(endpoint, deployment, str(rollback))
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
                endpoint.green_share, endpoint.pending_status = 0.0, None
                endpoint.config = deployment.config
                endpoint.set_status("InService", None)
        if not current:  # deleted while starting
            deployment.stop()
        elif previous is not None:
            previous.retire(self._settings.drain_timeout)

    def _roll_out(self, endpoint: Endpoint, green: Deployment, plan: RolloutPlan) -> None:
        """Move traffic to the green fleet step by step, baking after each; RolledBack when an
        alarm fires or the update outlasts its timeout."""
        count = green.desired_count
        deadline = None if plan.timeout_seconds is None else green.started + plan.timeout_seconds
        for step in plan.steps:
            capacity = plan.capacity_name(step, count)
            if green.current_count < step.instances:
                self._variant_status(
                    endpoint,
                    green,
                    "Updating",
                    f"Scaling out desired instance count to {step.instances}.",
                )
                try:
                    green.scale_to(
                        step.instances,
                        self._python,
                        self._settings,
                        self._exit_handler(endpoint, green),
                    )
                except DeploymentFailed as failure:
                    raise RolledBack(str(failure)) from None
            self._variant_status(
                endpoint, green, "ActivatingTraffic", f"Activating traffic on {capacity}."
            )
            with self._lock:
                if endpoint.pending is not green:
                    raise DeploymentCancelled
                endpoint.green_share = step.share
            self._variant_status(
                endpoint,
                green,
                "Baking",
                f"Baking for {plan.bake_seconds} seconds (WaitIntervalInSeconds) with traffic "
                f"enabled on {capacity}.",
            )
            self._bake(green, plan, plan.bake_seconds, deadline, f"baking on {capacity}")
        if plan.termination_wait_seconds:
            capacity = plan.capacity_name(plan.steps[-1], count)
            self._variant_status(
                endpoint,
                green,
                "Baking",
                f"Baking for {plan.termination_wait_seconds} seconds (TerminationWaitInSeconds) "
                f"with traffic enabled on {capacity}.",
            )
            self._bake(green, plan, plan.termination_wait_seconds, deadline, "the termination wait")

    def _bake(
        self,
        green: Deployment,
        plan: RolloutPlan,
        seconds: float,
        deadline: float | None,
        phase: str,
    ) -> None:
        """Wait `seconds`, watching the alarms (at least once) and the deadline."""
        end = time.monotonic() + seconds
        while True:
            if fired := self._alarms_in_alarm(plan.alarms):
                raise RolledBack(
                    f"Rolled back the update to endpoint configuration {green.config.name}: "
                    f"alarm(s) {', '.join(fired)} in ALARM during {phase}"
                )
            if deadline is not None and time.time() > deadline:
                raise RolledBack(
                    f"Rolled back the update to endpoint configuration {green.config.name}: it "
                    f"exceeded MaximumExecutionTimeoutInSeconds ({plan.timeout_seconds}) during "
                    f"{phase}"
                )
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            if green.wait_stopping(min(self._settings.rollback_poll_seconds, remaining)):
                raise DeploymentCancelled

    def _alarms_in_alarm(self, names: tuple[str, ...]) -> list[str]:
        if not names:
            return []
        try:
            found = self._clients.client("cloudwatch").describe_alarms(AlarmNames=list(names))
        except Exception as error:  # unknown state: keep baking, say so
            LOG.warning("could not read the rollback alarms %s: %s", ", ".join(names), error)
            return []
        alarms = found["MetricAlarms"] + found["CompositeAlarms"]
        return sorted(a["AlarmName"] for a in alarms if a["StateValue"] == "ALARM")

    def _roll_back(self, endpoint: Endpoint, green: Deployment, reason: str) -> None:
        """All traffic back to blue, the green fleet drained and ended, InService on blue."""
        with self._lock:
            current = endpoint.pending is green
            if current:
                endpoint.green_share = 0.0
        if current:
            self._variant_status(
                endpoint, green, "Deleting", f"Terminating {green.current_count} instance(s)."
            )
        LOG.warning("endpoint %s: %s", endpoint.name, reason)
        green.retire(self._settings.drain_timeout)
        with self._lock:
            if endpoint.pending is green:
                endpoint.pending, endpoint.pending_status = None, None
                endpoint.set_status("InService", reason[:FAILURE_REASON_LIMIT])

    def _variant_status(
        self, endpoint: Endpoint, deployment: Deployment, status: str, message: str
    ) -> None:
        with self._lock:
            if endpoint.pending is deployment:
                endpoint.pending_status = {
                    "Status": status,
                    "StatusMessage": message,
                    "StartTime": time.time(),
                }

    def _deployment_failed(self, endpoint: Endpoint, deployment: Deployment, reason: str) -> None:
        with self._lock:
            if endpoint.pending is not deployment:
                return
            endpoint.pending, endpoint.pending_status = None, None
            endpoint.green_share = 0.0
            # A failed update rolls back: still InService on the old deployment, reason shown.
            endpoint.set_status("InService" if endpoint.active else "Failed", reason)

    def _on_exit(self, endpoint: Endpoint, deployment: Deployment, instance: Instance) -> None:
        """A serve process ended; if it was serving and nobody stopped it, replace it."""
        reason = deployment.lose(instance)
        if reason is None:
            return
        # Not on this thread: it is the process's own watcher, which must return first.
        _in_background(f"replace-{endpoint.name}", self._replace, endpoint, deployment, reason)

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
            if deployment.current_count:  # the rest of the fleet serves on
                LOG.warning(
                    "endpoint %s: an instance was not replaced: %s", endpoint.name, last_failure
                )
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
            name,
            deployment.variant_name,
            deployment.config.name,
            status,
            model,
            answered - received - model,
        )

    def _acquire(self, endpoint: Endpoint) -> Deployment:
        # At most a couple of rounds: acquire() fails only while traffic moves to a new deployment.
        for _ in range(3):
            deployment = _route(endpoint)
            if deployment is None or endpoint.status not in {"InService", "Updating"}:
                break
            if deployment.acquire():
                return deployment
        raise _not_in_service(endpoint)


def _in_background(name: str, target: Callable[..., None], *args: Any) -> None:
    threading.Thread(target=target, args=args, name=name, daemon=True).start()


def _route(endpoint: Endpoint) -> Deployment | None:
    """The fleet one request goes to: the green one for its share while a rollout bakes.

    The n-th request goes to green when floor(n * share) steps up, so exactly that share does.
    """
    green, share = endpoint.pending, endpoint.green_share
    if green is None or share <= 0:
        return endpoint.active
    turn = next(endpoint.routed)
    if share >= 1 or math.floor((turn + 1) * share) > math.floor(turn * share):
        return green
    return endpoint.active


def _retained(params: dict[str, Any]) -> frozenset[str]:
    """The variant properties an UpdateEndpoint keeps from the running fleet."""
    excluded = {
        e["VariantPropertyType"] for e in params.get("ExcludeRetainedVariantProperties", [])
    }
    if not params.get("RetainAllVariantProperties"):
        if excluded:
            raise ValidationException(
                "ExcludeRetainedVariantProperties applies only when RetainAllVariantProperties "
                "is true"
            )
        return frozenset()
    return RETAINED_PROPERTIES - excluded


def _desired_capacity(
    endpoint: Endpoint, deployment: Deployment, wanted: list[dict[str, Any]]
) -> int:
    """The instance count UpdateEndpointWeightsAndCapacities asks of the one variant."""
    names = [entry["VariantName"] for entry in wanted]
    if unknown := sorted(set(names) - {deployment.variant_name}):
        raise ValidationException(
            f"The variant name(s) [{', '.join(unknown)}] is/are not present in the endpoint "
            f"{endpoint.name}'s current configuration."
        )
    if len(names) != len(set(names)):
        raise ValidationException(f"Variant {deployment.variant_name} is given more than once.")
    count = deployment.desired_count
    for entry in wanted:
        if "DesiredWeight" not in entry and "DesiredInstanceCount" not in entry:
            raise ValidationException(
                f"Give DesiredWeight or DesiredInstanceCount for variant {entry['VariantName']}."
            )
        if "DesiredInstanceCount" in entry:
            count = int(entry["DesiredInstanceCount"])
            if count < 1:
                raise ValidationException(
                    f"DesiredInstanceCount must be at least 1 for variant "
                    f"{entry['VariantName']}: it runs on instances"
                )
    return count


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
