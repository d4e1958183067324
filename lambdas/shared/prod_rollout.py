"""Prod's blue/green rollout: the DeploymentConfig prod is updated with, and its rollback alarms.

SageMaker brings the new fleet up beside the old one, moves traffic to it (a canary then the
rest, linear steps, or all at once), bakes after each step and keeps the old fleet for the
termination wait, rolling back if one of the alarms goes to ALARM. The alarms (the template's
`<project>-prod-canary-*`) watch the new fleet only: their EndpointConfigName dimension is
pointed at the new configuration before each update, and their state reset, so an alarm left
over from an earlier rollout cannot roll this one back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from codepipeline_job import ConfigurationError

ROUTING_TYPES = ("CANARY", "LINEAR", "ALL_AT_ONCE")
MAX_CANARY_PERCENT = 50
LINEAR_PERCENT = (10, 50)
WAIT_RANGE = (0, 3600)  # WaitIntervalInSeconds and TerminationWaitInSeconds
TIMEOUT_RANGE = (600, 28800)  # MaximumExecutionTimeoutInSeconds
MAX_ALARMS = 10
# What PutMetricAlarm takes back from a DescribeAlarms entry, to change one dimension only.
ALARM_FIELDS = (
    "AlarmName",
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
)


@dataclass(frozen=True)
class RolloutSettings:
    """How prod's updates roll out; set by templates/02-pipeline.yml."""

    prod_traffic_routing: str
    prod_traffic_step_percent: int
    prod_bake_seconds: int
    prod_termination_wait_seconds: int
    prod_max_deployment_seconds: int
    rollback_alarms: str  # comma-separated alarm names

    def __post_init__(self) -> None:
        """Refuse what UpdateEndpoint would refuse, before anything is created."""
        problems = []
        if self.prod_traffic_routing not in ROUTING_TYPES:
            problems.append(
                f"PROD_TRAFFIC_ROUTING must be one of {', '.join(ROUTING_TYPES)}, got "
                f"{self.prod_traffic_routing!r}"
            )
        low, high = LINEAR_PERCENT if self.prod_traffic_routing == "LINEAR" else (1, 50)
        if not low <= self.prod_traffic_step_percent <= high:
            problems.append(
                f"PROD_TRAFFIC_STEP_PERCENT must be {low} to {high} for "
                f"{self.prod_traffic_routing}, got {self.prod_traffic_step_percent}"
            )
        for name, value in (
            ("PROD_BAKE_SECONDS", self.prod_bake_seconds),
            ("PROD_TERMINATION_WAIT_SECONDS", self.prod_termination_wait_seconds),
        ):
            if not WAIT_RANGE[0] <= value <= WAIT_RANGE[1]:
                problems.append(f"{name} must be {WAIT_RANGE[0]} to {WAIT_RANGE[1]}, got {value}")
        if not TIMEOUT_RANGE[0] <= self.prod_max_deployment_seconds <= TIMEOUT_RANGE[1]:
            problems.append(
                f"PROD_MAX_DEPLOYMENT_SECONDS must be {TIMEOUT_RANGE[0]} to {TIMEOUT_RANGE[1]}, "
                f"got {self.prod_max_deployment_seconds}"
            )
        elif self.prod_max_deployment_seconds <= self.baking_seconds:
            problems.append(
                f"PROD_MAX_DEPLOYMENT_SECONDS ({self.prod_max_deployment_seconds}) must be more "
                f"than the rollout's bakes and termination wait ({self.baking_seconds} s)"
            )
        if not 1 <= len(self.alarms) <= MAX_ALARMS:
            problems.append(
                f"ROLLBACK_ALARMS must name 1 to {MAX_ALARMS} alarms, got {self.rollback_alarms!r}"
            )
        if problems:
            raise ConfigurationError("; ".join(problems))

    @property
    def alarms(self) -> list[str]:
        """The rollback alarms' names."""
        return [name.strip() for name in self.rollback_alarms.split(",") if name.strip()]

    @property
    def steps(self) -> int:
        """Traffic steps of the rollout, each followed by a bake (at most, for LINEAR)."""
        if self.prod_traffic_routing == "CANARY":
            return 2
        if self.prod_traffic_routing == "LINEAR":
            return math.ceil(100 / self.prod_traffic_step_percent)
        return 1

    @property
    def baking_seconds(self) -> int:
        """The longest the rollout bakes and waits, with no time to start instances."""
        return self.steps * self.prod_bake_seconds + self.prod_termination_wait_seconds


def deployment_config(settings: RolloutSettings, instance_count: int) -> dict[str, Any]:
    """UpdateEndpoint's DeploymentConfig for a fleet of `instance_count`.

    A canary or linear step is a share of the instances, so it needs at least 2 of them.
    """
    routing: dict[str, Any] = {
        "Type": settings.prod_traffic_routing,
        "WaitIntervalInSeconds": settings.prod_bake_seconds,
    }
    size = {"Type": "CAPACITY_PERCENT", "Value": settings.prod_traffic_step_percent}
    if settings.prod_traffic_routing == "CANARY":
        routing["CanarySize"] = size
    elif settings.prod_traffic_routing == "LINEAR":
        routing["LinearStepSize"] = size
    if settings.prod_traffic_routing != "ALL_AT_ONCE" and instance_count < 2:
        raise ConfigurationError(
            f"a {settings.prod_traffic_routing} rollout needs at least 2 prod instances to move "
            f"traffic in steps; prod has {instance_count} (raise ProdInstanceCount, or set "
            "ProdTrafficRouting to ALL_AT_ONCE)"
        )
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": settings.prod_termination_wait_seconds,
            "MaximumExecutionTimeoutInSeconds": settings.prod_max_deployment_seconds,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": a} for a in settings.alarms]},
    }


def watch_new_fleet(cloudwatch: Any, settings: RolloutSettings, endpoint_config: str) -> None:
    """Point each rollback alarm's EndpointConfigName at the new fleet, and set it OK.

    Every other setting is the template's, read back and written unchanged.
    """
    found = cloudwatch.describe_alarms(AlarmNames=settings.alarms)["MetricAlarms"]
    if missing := sorted(set(settings.alarms) - {alarm["AlarmName"] for alarm in found}):
        raise ConfigurationError(f"rollback alarm(s) {', '.join(missing)} do not exist")
    for alarm in found:
        request = {key: alarm[key] for key in ALARM_FIELDS if key in alarm}
        request["Dimensions"] = [
            {**d, "Value": endpoint_config} if d["Name"] == "EndpointConfigName" else d
            for d in alarm["Dimensions"]
        ]
        cloudwatch.put_metric_alarm(**request)
        cloudwatch.set_alarm_state(
            AlarmName=alarm["AlarmName"],
            StateValue="OK",
            StateReason=f"Watching the new fleet, endpoint configuration {endpoint_config}",
        )
