"""Prod's autoscaling: a target-tracking policy on SageMakerVariantInvocationsPerInstance.

Application Auto Scaling registers an endpoint's variant only once the endpoint exists, which a
stack cannot wait for: the pipeline creates prod. So ProdStatus, each time prod is InService on
a new deployment, (re)registers prod's variant with the stack's limits and puts its policy; both
are idempotent and outlive updates, which keep the variant. Prod's updates keep the count the
autoscaler set (DeployModel), which a configuration's own count would reset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codepipeline_job import ConfigurationError

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"
MAX_INSTANCES = 10  # the template's bound on prod's instances
MAX_COOLDOWN_SECONDS = 3600


def resource_id(endpoint: str, variant: str) -> str:
    """Application Auto Scaling's id of an endpoint's variant."""
    return f"endpoint/{endpoint}/variant/{variant}"


@dataclass(frozen=True)
class AutoscalingSettings:
    """Prod's scaling limits and target; set by templates/02-pipeline.yml."""

    prod_min_instances: int
    prod_max_instances: int
    prod_target_invocations_per_instance: int  # per minute, as SageMaker counts it
    prod_scale_in_cooldown_seconds: int
    prod_scale_out_cooldown_seconds: int

    def __post_init__(self) -> None:
        """Refuse what Application Auto Scaling would refuse, before anything is registered."""
        problems = []
        if not 1 <= self.prod_min_instances <= self.prod_max_instances <= MAX_INSTANCES:
            problems.append(
                f"PROD_MIN_INSTANCES ({self.prod_min_instances}) and PROD_MAX_INSTANCES "
                f"({self.prod_max_instances}) must satisfy 1 <= min <= max <= {MAX_INSTANCES} "
                "(ProdInstanceCount and ProdMaxInstanceCount)"
            )
        if self.prod_target_invocations_per_instance < 1:
            problems.append(
                "PROD_TARGET_INVOCATIONS_PER_INSTANCE must be 1 or more, got "
                f"{self.prod_target_invocations_per_instance}"
            )
        for name, value in (
            ("PROD_SCALE_IN_COOLDOWN_SECONDS", self.prod_scale_in_cooldown_seconds),
            ("PROD_SCALE_OUT_COOLDOWN_SECONDS", self.prod_scale_out_cooldown_seconds),
        ):
            if not 0 <= value <= MAX_COOLDOWN_SECONDS:
                problems.append(f"{name} must be 0 to {MAX_COOLDOWN_SECONDS}, got {value}")
        if problems:
            raise ConfigurationError("; ".join(problems))


def keep_autoscaling(
    autoscaling: Any, settings: AutoscalingSettings, endpoint: str, variant: str
) -> str:
    """Register the variant as a scalable target and put its target-tracking policy; what was
    done, for the action's summary."""
    target = {
        "ServiceNamespace": NAMESPACE,
        "ResourceId": resource_id(endpoint, variant),
        "ScalableDimension": DIMENSION,
    }
    autoscaling.register_scalable_target(
        **target,
        MinCapacity=settings.prod_min_instances,
        MaxCapacity=settings.prod_max_instances,
    )
    autoscaling.put_scaling_policy(
        **target,
        PolicyName=f"{endpoint}-invocations-per-instance",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": float(settings.prod_target_invocations_per_instance),
            "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC},
            "ScaleInCooldown": settings.prod_scale_in_cooldown_seconds,
            "ScaleOutCooldown": settings.prod_scale_out_cooldown_seconds,
        },
    )
    return (
        f"autoscaling {settings.prod_min_instances} to {settings.prod_max_instances} instances "
        f"at {settings.prod_target_invocations_per_instance} invocations per instance a minute"
    )
