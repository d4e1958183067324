"""The local cloud's autoscaler against moto's Application Auto Scaling and the local SageMaker:
a registered variant scales out on its invocations per instance, in after the cooldown, and
always within its limits; what it does not apply it says so."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from localcloud.autoscaler import EndpointAutoscaler
from tests.localcloud.sagemaker.conftest import Cloud, csv_body, invoke, unique, wait_for
from tests.localcloud.sagemaker.test_rollout import fleet, serving_endpoint

DIMENSION = "sagemaker:variant:DesiredInstanceCount"


class Clock:
    """Monotonic seconds the test moves on by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def target_of(endpoint: str) -> dict[str, str]:
    return {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{endpoint}/variant/AllTraffic",
        "ScalableDimension": DIMENSION,
    }


def track(autoscaling: Any, endpoint: str, target: float, **cooldowns: int) -> None:
    autoscaling.put_scaling_policy(
        **target_of(endpoint),
        PolicyName=f"{endpoint}-invocations",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": target,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
            "ScaleInCooldown": cooldowns.get("scale_in", 300),
            "ScaleOutCooldown": cooldowns.get("scale_out", 300),
        },
    )


def counts(cloud: Cloud, endpoint: str) -> tuple[int, int]:
    described = cloud.wait_endpoint_settled(endpoint)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    (variant,) = described["ProductionVariants"]
    return variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]


def test_a_tracked_variant_scales_out_on_load_and_in_after_its_cooldown(
    cloud: Cloud, cloudwatch: Any, model_data_url: str, rows: list[dict[str, Any]]
) -> None:
    # GIVEN a 1-instance endpoint registered for 1 to 3 instances at 60 invocations a minute each
    _, config = fleet(cloud, model_data_url, instances=1)
    endpoint = serving_endpoint(cloud, config)
    autoscaling = boto3.client("application-autoscaling")
    autoscaling.register_scalable_target(**target_of(endpoint), MinCapacity=1, MaxCapacity=3)
    track(autoscaling, endpoint, 60)
    clock = Clock()
    scaler = EndpointAutoscaler(boto3.client, clock=clock)
    # WHEN it gets 150 requests in a minute (eight at a time, so a busy machine still sends
    # them well within the sliding minute the scaler sums; published within a second)
    body = csv_body(rows[:1], header=False)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: invoke(cloud, endpoint, body, "text/csv"), range(150)))
    wait_for(lambda: invocations(cloudwatch, endpoint) >= 150, timeout=10)
    (activity,) = scaler.scale_all()
    # THEN it scales out to ceil(1 x 150 / 60) = 3, its maximum
    assert (activity.before, activity.after) == (1, 3)
    assert activity.cause.startswith(
        "SageMakerVariantInvocationsPerInstance 150 against the target 60"
    )
    assert counts(cloud, endpoint) == (3, 3)

    # WHEN the target rises to 1,000 (150 / 3 = 50 a minute each, far below it)
    track(autoscaling, endpoint, 1000)
    # THEN nothing changes within the scale-in cooldown, then it scales in to its minimum
    assert scaler.scale_all() == []
    clock.now += 301
    (activity,) = scaler.scale_all()
    assert (activity.before, activity.after) == (3, 1)
    assert counts(cloud, endpoint) == (1, 1)

    # WHEN the minimum is raised to 2 THEN the variant is brought within its limits
    autoscaling.register_scalable_target(**target_of(endpoint), MinCapacity=2, MaxCapacity=3)
    (activity,) = scaler.scale_all()
    assert (activity.before, activity.after) == (1, 2)
    assert activity.cause.endswith("kept within 2 to 3 instances")
    assert counts(cloud, endpoint) == (2, 2)
    autoscaling.deregister_scalable_target(**target_of(endpoint))
    cloud.sagemaker.delete_endpoint(EndpointName=endpoint)


def test_a_policy_it_does_not_apply_is_reported_once_and_changes_nothing(
    cloud: Cloud, model_data_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a registered variant whose only policy is step scaling
    _, config = fleet(cloud, model_data_url, instances=1)
    endpoint = serving_endpoint(cloud, config)
    autoscaling = boto3.client("application-autoscaling")
    autoscaling.register_scalable_target(**target_of(endpoint), MinCapacity=1, MaxCapacity=2)
    name = unique("steps")
    autoscaling.put_scaling_policy(
        **target_of(endpoint),
        PolicyName=name,
        PolicyType="StepScaling",
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
        },
    )
    scaler = EndpointAutoscaler(boto3.client)
    # WHEN two rounds run THEN nothing scales, and the log says once that it is not applied
    with caplog.at_level(logging.WARNING, logger="localcloud.autoscaler"):
        assert scaler.scale_all() == []
        assert scaler.scale_all() == []
    reported = [r.getMessage() for r in caplog.records if name in r.getMessage()]
    assert reported == [
        f"scaling policy {name} of endpoint/{endpoint}/variant/AllTraffic is not applied by the "
        "local cloud: only TargetTrackingScaling on SageMakerVariantInvocationsPerInstance is"
    ]
    assert counts(cloud, endpoint) == (1, 1)
    autoscaling.deregister_scalable_target(**target_of(endpoint))
    cloud.sagemaker.delete_endpoint(EndpointName=endpoint)


def invocations(cloudwatch: Any, endpoint: str) -> float:
    """The endpoint's Invocations in moto over the last ten minutes."""
    now = datetime.now(UTC)
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "sum",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SageMaker",
                        "MetricName": "Invocations",
                        "Dimensions": [
                            {"Name": "EndpointName", "Value": endpoint},
                            {"Name": "VariantName", "Value": "AllTraffic"},
                        ],
                    },
                    "Period": 600,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
    )
    return sum(v for r in answer["MetricDataResults"] for v in r["Values"])
