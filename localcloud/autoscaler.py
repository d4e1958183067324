"""Apply the SageMaker scalable targets and target-tracking policies moto stores, as Application
Auto Scaling does.

moto keeps what RegisterScalableTarget and PutScalingPolicy were given and acts on none of it.
Every `interval_seconds` this reads each SageMaker variant's target and its TargetTrackingScaling
policy on `SageMakerVariantInvocationsPerInstance`, takes the variant's invocations per
instance over the last minute (Invocations, Sum over 60 s, divided by the instances), and sets
the desired count with UpdateEndpointWeightsAndCapacities:
- above the target: out to ceil(count x metric / target), once ScaleOutCooldown has passed since
  the last scale-out;
- below 90 % of the target (Application Auto Scaling's margin against flapping), or no traffic:
  in to the same formula, never below the minimum, once ScaleInCooldown has passed since the last
  scaling of either kind, unless DisableScaleIn;
- always within MinCapacity and MaxCapacity; a target with no policy is only kept within them.
AWS's target tracking reacts to alarms over several minutes; this looks at a sliding minute, so
the demo's load scales prod in seconds. An endpoint that is not InService (creating, updating,
rolling out) is left alone until it is, as Application Auto Scaling must.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

LOG = logging.getLogger("localcloud.autoscaler")
NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"
WINDOW_SECONDS = 60  # SageMaker's InvocationsPerInstance is a per-minute count
SCALE_IN_MARGIN = 0.9


@dataclass(frozen=True)
class Activity:
    """One change of a variant's desired count, and why (DescribeScalingActivities' wording)."""

    resource_id: str
    before: int
    after: int
    cause: str


@dataclass
class _History:
    last_scale_out: float = float("-inf")
    last_scaling: float = float("-inf")


class EndpointAutoscaler:
    """The scaling loop over one account's SageMaker variants."""

    def __init__(
        self,
        client: Callable[[str], Any],
        *,
        interval_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._autoscaling = client("application-autoscaling")
        self._cloudwatch = client("cloudwatch")
        self._sagemaker = client("sagemaker")
        self.interval_seconds = interval_seconds
        self.clock = clock
        self._history: dict[str, _History] = {}
        self._unapplied: set[str] = set()  # policies already reported as not applied
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Scale every `interval_seconds` until stopped."""

        def loop() -> None:
            while not self._stopping.wait(self.interval_seconds):
                try:
                    self.scale_all()
                except (ClientError, BotoCoreError) as error:
                    LOG.warning("autoscaling round failed: %s", error)

        self._thread = threading.Thread(target=loop, name="endpoint-autoscaler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop scaling; safe to call twice."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def scale_all(self) -> list[Activity]:
        """One round over every registered variant; the changes it made."""
        targets = [
            target
            for page in self._autoscaling.get_paginator("describe_scalable_targets").paginate(
                ServiceNamespace=NAMESPACE
            )
            for target in page["ScalableTargets"]
            if target["ScalableDimension"] == DIMENSION
        ]
        policies = {
            policy["ResourceId"]: policy
            for page in self._autoscaling.get_paginator("describe_scaling_policies").paginate(
                ServiceNamespace=NAMESPACE
            )
            for policy in page["ScalingPolicies"]
            if self._applies(policy)
        }
        made = [
            activity
            for target in targets
            if (activity := self._scale(target, policies.get(target["ResourceId"]))) is not None
        ]
        return made

    def _applies(self, policy: dict[str, Any]) -> bool:
        """Whether the local cloud applies the policy; the others are reported once."""
        config = policy.get("TargetTrackingScalingPolicyConfiguration", {})
        metric = config.get("PredefinedMetricSpecification", {}).get("PredefinedMetricType")
        if policy.get("PolicyType") == "TargetTrackingScaling" and metric == METRIC:
            return True
        if policy["PolicyARN"] not in self._unapplied:
            self._unapplied.add(policy["PolicyARN"])
            LOG.warning(
                "scaling policy %s of %s is not applied by the local cloud: only "
                "TargetTrackingScaling on %s is",
                policy["PolicyName"],
                policy["ResourceId"],
                METRIC,
            )
        return False

    def _scale(self, target: dict[str, Any], policy: dict[str, Any] | None) -> Activity | None:
        resource = target["ResourceId"]
        _, endpoint, _, variant = resource.split("/", 3)
        try:
            described = self._sagemaker.describe_endpoint(EndpointName=endpoint)
        except ClientError:
            return None  # not (or no longer) there: nothing to scale
        if described["EndpointStatus"] != "InService":
            return None
        summary = next(
            (v for v in described.get("ProductionVariants", []) if v["VariantName"] == variant),
            None,
        )
        if summary is None:
            return None
        current = int(summary["DesiredInstanceCount"])
        low, high = int(target["MinCapacity"]), int(target["MaxCapacity"])
        wanted, cause = self._wanted(resource, endpoint, variant, current, policy)
        bounded = min(max(wanted, low), high)
        if bounded != wanted:
            cause += f", kept within {low} to {high} instances"
        if bounded == current:
            return None
        self._sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=endpoint,
            DesiredWeightsAndCapacities=[{"VariantName": variant, "DesiredInstanceCount": bounded}],
        )
        history = self._history.setdefault(resource, _History())
        now = self.clock()
        history.last_scaling = now
        if bounded > current:
            history.last_scale_out = now
        activity = Activity(resource, current, bounded, cause)
        LOG.info("%s: desired count %d -> %d: %s", resource, current, bounded, cause)
        return activity

    def _wanted(
        self,
        resource: str,
        endpoint: str,
        variant: str,
        current: int,
        policy: dict[str, Any] | None,
    ) -> tuple[int, str]:
        if policy is None:
            return current, "the scalable target's limits"
        config = policy["TargetTrackingScalingPolicyConfiguration"]
        target = float(config["TargetValue"])
        per_instance = self._invocations(endpoint, variant) / max(current, 1)
        wanted = max(1, math.ceil(current * per_instance / target))
        history = self._history.get(resource, _History())
        now = self.clock()
        cause = (
            f"{METRIC} {per_instance:.0f} against the target {target:g} of policy "
            f"{policy['PolicyName']}"
        )
        if per_instance > target and wanted > current:
            if now - history.last_scale_out < int(config.get("ScaleOutCooldown", 300)):
                return current, cause
            return wanted, cause
        if per_instance < target * SCALE_IN_MARGIN and wanted < current:
            if config.get("DisableScaleIn"):
                return current, cause
            if now - history.last_scaling < int(config.get("ScaleInCooldown", 300)):
                return current, cause
            return wanted, cause
        return current, cause

    def _invocations(self, endpoint: str, variant: str) -> float:
        """The variant's invocations over the last minute, this second's included (moto drops
        the fraction of a second from EndTime)."""
        end = datetime.now(UTC) + timedelta(seconds=1)
        query = {
            "Id": "invocations",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/SageMaker",
                    "MetricName": "Invocations",
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": endpoint},
                        {"Name": "VariantName", "Value": variant},
                    ],
                },
                "Period": WINDOW_SECONDS,
                "Stat": "Sum",
            },
        }
        result = self._cloudwatch.get_metric_data(
            MetricDataQueries=[query],
            StartTime=end - timedelta(seconds=WINDOW_SECONDS),
            EndTime=end,
        )["MetricDataResults"]
        return float(sum(value for item in result for value in item["Values"]))
