"""Deployment guardrails: an UpdateEndpoint's DeploymentConfig checked and turned into a plan.

A blue/green update brings the new (green) fleet up beside the old (blue) one and moves traffic
in steps: all at once, a canary then the rest, or linear steps. After each step it bakes for
`WaitIntervalInSeconds` while the rollback alarms are watched; once all traffic is on green it
keeps blue for `TerminationWaitInSeconds`, still watching, then ends it. Any alarm in ALARM, or
the update outlasting `MaximumExecutionTimeoutInSeconds`, rolls back: traffic returns to blue.
The ranges of single fields are botocore's model's, checked before any action runs; the rules
here are the ones across fields, in SageMaker's wording where it has one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from localcloud.sagemaker.exceptions import ValidationException

ALL_AT_ONCE, CANARY, LINEAR = "ALL_AT_ONCE", "CANARY", "LINEAR"
MAX_CANARY_PERCENT = 50
LINEAR_PERCENT_RANGE = (10, 50)


@dataclass(frozen=True)
class TrafficStep:
    """Green instances taking traffic after one step, and the share of requests they get."""

    instances: int
    share: float


@dataclass(frozen=True)
class RolloutPlan:
    """What one blue/green update does, in order."""

    mode: str
    steps: tuple[TrafficStep, ...]
    bake_seconds: int  # after each step (WaitIntervalInSeconds)
    termination_wait_seconds: int
    timeout_seconds: int | None
    alarms: tuple[str, ...]

    def capacity_name(self, step: TrafficStep, count: int) -> str:
        """`canary capacity of 1 instance(s)`, as the variant status messages say it."""
        if step.instances >= count:
            return f"full capacity of {count} instance(s)"
        kind = "canary" if self.mode == CANARY else "linear step"
        return f"{kind} capacity of {step.instances} instance(s)"


def plan_update(deployment_config: dict[str, Any] | None, count: int) -> RolloutPlan | None:
    """The plan of an update of a `count`-instance variant; None for a plain update.

    With no BlueGreenUpdatePolicy the update is blue/green all at once without baking (still
    watching the alarms once, when there are some).
    """
    if not deployment_config:
        return None
    alarms = tuple(
        alarm["AlarmName"]
        for alarm in deployment_config.get("AutoRollbackConfiguration", {}).get("Alarms", [])
    )
    policy = deployment_config.get("BlueGreenUpdatePolicy")
    if policy is None:
        return RolloutPlan(ALL_AT_ONCE, (TrafficStep(count, 1.0),), 0, 0, None, alarms)
    routing = policy["TrafficRoutingConfiguration"]
    mode = routing["Type"]
    if mode == CANARY:
        steps = _canary_steps(routing, count)
    elif mode == LINEAR:
        steps = _linear_steps(routing, count)
    else:
        steps = (TrafficStep(count, 1.0),)
    bake = int(routing["WaitIntervalInSeconds"])
    termination = int(policy.get("TerminationWaitInSeconds", 0))
    timeout = policy.get("MaximumExecutionTimeoutInSeconds")
    total = bake * len(steps) + termination
    if timeout is not None and int(timeout) <= total:
        raise ValidationException(
            f"MaximumExecutionTimeoutInSeconds ({timeout}) must be greater than the total of "
            f"the bake and termination waits of this deployment ({total} seconds: "
            f"{len(steps)} step(s) of WaitIntervalInSeconds {bake} plus "
            f"TerminationWaitInSeconds {termination})"
        )
    return RolloutPlan(
        mode, steps, bake, termination, int(timeout) if timeout is not None else None, alarms
    )


def _size(size: dict[str, Any], count: int) -> int:
    """Instances a CanarySize or LinearStepSize stands for."""
    value = int(size["Value"])
    if size["Type"] == "INSTANCE_COUNT":
        return value
    return max(1, math.floor(count * value / 100))


def _canary_steps(routing: dict[str, Any], count: int) -> tuple[TrafficStep, ...]:
    size = routing.get("CanarySize")
    if size is None:
        raise ValidationException(
            "CanarySize is required when TrafficRoutingConfiguration Type is CANARY"
        )
    canary = _size(size, count)
    percent = int(size["Value"]) if size["Type"] == "CAPACITY_PERCENT" else canary * 100 / count
    if percent > MAX_CANARY_PERCENT or canary >= count:
        raise ValidationException(
            f"CanarySize ({size['Type']} {size['Value']}) must be at most "
            f"{MAX_CANARY_PERCENT}% of the variant's instance count ({count}), and less than all "
            "of it"
        )
    return (TrafficStep(canary, canary / count), TrafficStep(count, 1.0))


def _linear_steps(routing: dict[str, Any], count: int) -> tuple[TrafficStep, ...]:
    size = routing.get("LinearStepSize")
    if size is None:
        raise ValidationException(
            "LinearStepSize is required when TrafficRoutingConfiguration Type is LINEAR"
        )
    step = _size(size, count)
    low, high = LINEAR_PERCENT_RANGE
    if not low * count <= step * 100 <= high * count:
        raise ValidationException(
            f"LinearStepSize ({size['Type']} {size['Value']}) must be {low}% to {high}% of the "
            f"variant's instance count ({count}): {step} instance(s) is not"
        )
    shares = range(step, count, step)
    return (*(TrafficStep(n, n / count) for n in shares), TrafficStep(count, 1.0))
