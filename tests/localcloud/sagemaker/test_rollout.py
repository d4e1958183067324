"""Endpoints of several instances, UpdateEndpointWeightsAndCapacities, and blue/green updates
with a canary, baking and alarm-driven rollback, through boto3 against the local SageMaker.

Each fleet's model names itself in the CustomAttributes of its answers, so the tests see which
fleet answered every request.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.localcloud.sagemaker.conftest import (
    BUCKET,
    Cloud,
    capture_config,
    container_processes,
    count_captured,
    csv_body,
    endpoint_dir,
    error_of,
    invoke,
    unique,
    wait_for,
)

ONE_WORKER = {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"}  # keeps four fleets' processes light


def fleet(
    cloud: Cloud, model_data_url: str, instances: int, **config_request: Any
) -> tuple[str, str]:
    """(model, config): a model that names itself in its answers, `instances` of it."""
    model, config = unique("model"), unique("config")
    cloud.create_model(
        model_data_url=model_data_url,
        name=model,
        Environment={**ONE_WORKER, "SERVED_MODEL_NAME": model},
    )
    cloud.create_endpoint_config(config, model, instances=instances, **config_request)
    return model, config


def serving_endpoint(cloud: Cloud, config: str) -> str:
    name = unique("endpoint")
    cloud.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config)
    described = cloud.wait_endpoint_settled(name)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return name


class Load:
    """A client calling the endpoint without pause, counting which model answered each call."""

    def __init__(self, cloud: Cloud, endpoint: str, body: str) -> None:
        self.answered: Counter[str] = Counter()
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(cloud, endpoint, body))

    def _loop(self, cloud: Cloud, endpoint: str, body: str) -> None:
        while not self._stop.is_set():
            try:
                _, response = invoke(cloud, endpoint, body, "text/csv")
                self.answered[response["CustomAttributes"].removeprefix("model=")] += 1
            except Exception as error:  # every failure is the test's finding
                self.failures.append(repr(error))

    @contextmanager
    def running(self) -> Iterator[Load]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


def canary(wait: int, termination: int, alarms: list[str], timeout: int = 600) -> dict[str, Any]:
    """A DeploymentConfig: a canary of 1 instance, rolled back by `alarms`."""
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
                "WaitIntervalInSeconds": wait,
            },
            "TerminationWaitInSeconds": termination,
            "MaximumExecutionTimeoutInSeconds": timeout,
        }
    }
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarms]}
    return config


def alarm(cloudwatch: Any, endpoint: str) -> str:
    name = unique("rollback")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=[
            {"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0.01,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="test start")
    return name


def pending_status(cloud: Cloud, endpoint: str) -> dict[str, Any] | None:
    """The pending fleet's VariantStatus entry, None when there is no update."""
    described = cloud.sagemaker.describe_endpoint(EndpointName=endpoint)
    pending = described.get("PendingDeploymentSummary")
    if pending is None:
        return None
    (variant,) = pending["ProductionVariants"]
    return variant.get("VariantStatus", [None])[0]


def serve_ports(cloud: Cloud, endpoint: str, deployment: int) -> set[str]:
    """The ports of a deployment's live serve processes: one per instance."""
    processes = container_processes(endpoint_dir(cloud, endpoint) / f"{deployment:04d}")
    return {env["SAGEMAKER_BIND_TO_PORT"] for env in processes.values()}


def test_instances_each_run_a_serve_process_share_requests_and_scale(
    cloud: Cloud, model_data_url: str, rows: list[dict[str, Any]]
) -> None:
    # GIVEN an endpoint of 2 instances
    model, config = fleet(cloud, model_data_url, instances=2)
    endpoint = serving_endpoint(cloud, config)
    (variant,) = cloud.sagemaker.describe_endpoint(EndpointName=endpoint)["ProductionVariants"]
    assert (variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]) == (2, 2)
    assert len(serve_ports(cloud, endpoint, 1)) == 2

    # WHEN it is called 20 times THEN each instance answered half
    pools = [i.pool for i in cloud.server.backend.endpoints.store.get(endpoint).active.instances]
    before = [pool.num_requests for pool in pools]  # the health checks' so far
    for _ in range(20):
        invoke(cloud, endpoint, csv_body(rows[:1], header=False), "text/csv")
    assert [pool.num_requests - sent for pool, sent in zip(pools, before, strict=True)] == [10, 10]

    # WHEN it is scaled out to 3 THEN it is Updating, then InService with 3 serve processes
    cloud.sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=endpoint,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 3}],
    )
    assert cloud.sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "Updating"
    described = cloud.wait_endpoint_settled(endpoint)
    (variant,) = described["ProductionVariants"]
    assert described["EndpointStatus"] == "InService"
    assert (variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]) == (3, 3)
    assert len(serve_ports(cloud, endpoint, 1)) == 3

    # WHEN scaled in to 1 under load THEN no request fails and one process is left
    with Load(cloud, endpoint, csv_body(rows[:1], header=False)).running() as load:
        wait_for(lambda: load.answered[model] > 5, timeout=10, interval=0.01)
        cloud.sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=endpoint,
            DesiredWeightsAndCapacities=[
                {"VariantName": "AllTraffic", "DesiredInstanceCount": 1, "DesiredWeight": 0.5}
            ],
        )
        described = cloud.wait_endpoint_settled(endpoint)
    assert not load.failures, load.failures[:2]
    (variant,) = described["ProductionVariants"]
    assert (variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]) == (1, 1)
    assert (variant["CurrentWeight"], variant["DesiredWeight"]) == (0.5, 0.5)
    wait_for(lambda: len(serve_ports(cloud, endpoint, 1)) == 1, timeout=10)

    # THEN what cannot be done is refused, naming the problem, and nothing changes
    refused = [
        ([{"VariantName": "Other", "DesiredInstanceCount": 2}], "The variant name(s) [Other]"),
        ([{"VariantName": "AllTraffic", "DesiredInstanceCount": 0}], "at least 1"),
        ([{"VariantName": "AllTraffic"}], "Give DesiredWeight or DesiredInstanceCount"),
    ]
    for wanted, message in refused:
        with pytest.raises(ClientError) as excinfo:
            cloud.sagemaker.update_endpoint_weights_and_capacities(
                EndpointName=endpoint, DesiredWeightsAndCapacities=wanted
            )
        assert error_of(excinfo)[0] == "ValidationException"
        assert message in error_of(excinfo)[1]
    assert cloud.sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"
    cloud.sagemaker.delete_endpoint(EndpointName=endpoint)


def test_canary_bakes_on_a_share_of_traffic_then_takes_all_of_it_without_a_failed_request(
    cloud: Cloud, cloudwatch: Any, model_data_url: str, rows: list[dict[str, Any]]
) -> None:
    # GIVEN blue: 2 instances, and green: 2 instances of another model, under steady load
    blue_model, blue_config = fleet(cloud, model_data_url, instances=2)
    green_model, green_config = fleet(cloud, model_data_url, instances=2)
    endpoint = serving_endpoint(cloud, blue_config)
    watch = alarm(cloudwatch, endpoint)
    policy = canary(wait=4, termination=2, alarms=[watch])

    with Load(cloud, endpoint, csv_body(rows[:1], header=False)).running() as load:
        wait_for(lambda: load.answered[blue_model] > 5, timeout=10, interval=0.01)

        # WHEN it is updated with a canary of 1 instance
        cloud.sagemaker.update_endpoint(
            EndpointName=endpoint, EndpointConfigName=green_config, DeploymentConfig=policy
        )
        baking = wait_for(
            lambda: (s := pending_status(cloud, endpoint)) and s["Status"] == "Baking" and s,
            timeout=30,
            interval=0.05,
        )
        during = cloud.sagemaker.describe_endpoint(EndpointName=endpoint)
        before = load.answered.copy()
        time.sleep(2)
        canary_share = _share(load.answered - before, green_model, blue_model)
        described = cloud.wait_endpoint_settled(endpoint, timeout=60)
        after = load.answered.copy()
        time.sleep(0.5)
        last = load.answered - after

    # THEN while it baked, the canary (1 of 2 instances) took about half the requests
    assert baking["StatusMessage"] == (
        "Baking for 4 seconds (WaitIntervalInSeconds) with traffic enabled on canary capacity "
        "of 1 instance(s)."
    )
    assert during["EndpointStatus"] == "Updating"
    assert during["EndpointConfigName"] == blue_config
    (pending,) = during["PendingDeploymentSummary"]["ProductionVariants"]
    assert (pending["CurrentInstanceCount"], pending["DesiredInstanceCount"]) == (1, 2)
    assert 0.35 < canary_share < 0.65, canary_share
    # ... then all of it moved, blue ended, and no request failed on the way
    assert not load.failures, f"{len(load.failures)} failed, e.g. {load.failures[:2]}"
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == green_config
    assert "FailureReason" not in described
    assert described["LastDeploymentConfig"] == policy
    (variant,) = described["ProductionVariants"]
    assert (variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]) == (2, 2)
    assert set(last) == {green_model}
    wait_for(lambda: not serve_ports(cloud, endpoint, 1), timeout=10)
    assert len(serve_ports(cloud, endpoint, 2)) == 2
    cloud.sagemaker.delete_endpoint(EndpointName=endpoint)


def _share(answered: Counter[str], green: str, blue: str) -> float:
    total = answered[green] + answered[blue]
    assert total > 20, answered
    return answered[green] / total


def test_an_alarm_in_alarm_while_the_canary_bakes_rolls_back_to_the_old_fleet(
    cloud: Cloud, cloudwatch: Any, model_data_url: str, rows: list[dict[str, Any]]
) -> None:
    # GIVEN an endpoint updating with a canary that bakes for a minute
    blue_model, blue_config = fleet(cloud, model_data_url, instances=2)
    green_model, green_config = fleet(cloud, model_data_url, instances=2)
    endpoint = serving_endpoint(cloud, blue_config)
    watch = alarm(cloudwatch, endpoint)
    with Load(cloud, endpoint, csv_body(rows[:1], header=False)).running() as load:
        cloud.sagemaker.update_endpoint(
            EndpointName=endpoint,
            EndpointConfigName=green_config,
            DeploymentConfig=canary(wait=60, termination=0, alarms=[watch]),
        )
        wait_for(lambda: load.answered[green_model] > 5, timeout=30, interval=0.05)

        # WHEN its alarm goes into ALARM
        cloudwatch.set_alarm_state(AlarmName=watch, StateValue="ALARM", StateReason="test")
        started = time.monotonic()
        described = cloud.wait_endpoint_settled(endpoint, timeout=30)
        rolled_back_in = time.monotonic() - started
        after = load.answered.copy()
        time.sleep(0.5)
        last = load.answered - after

    # THEN the endpoint is InService on the old configuration, the reason names the alarm,
    # traffic is back on blue, the canary fleet is gone, and no request failed on the way
    assert rolled_back_in < 10
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == blue_config
    assert described["FailureReason"] == (
        f"Rolled back the update to endpoint configuration {green_config}: alarm(s) {watch} in "
        "ALARM during baking on canary capacity of 1 instance(s)"
    )
    assert "PendingDeploymentSummary" not in described
    assert not load.failures, load.failures[:2]
    assert set(last) == {blue_model}
    wait_for(lambda: not serve_ports(cloud, endpoint, 2), timeout=10)
    assert len(serve_ports(cloud, endpoint, 1)) == 2
    cloud.sagemaker.delete_endpoint(EndpointName=endpoint)


def test_retained_properties_keep_the_scaled_count_and_bad_policies_are_refused(
    cloud: Cloud, cloudwatch: Any, model_data_url: str, rows: list[dict[str, Any]]
) -> None:
    # GIVEN an endpoint of 1 instance, capturing, scaled out to 2 (the new config captures not)
    prefix = unique("retained-capture")
    _, blue_config = fleet(
        cloud, model_data_url, instances=1, DataCaptureConfig=capture_config(prefix)
    )
    _, green_config = fleet(cloud, model_data_url, instances=1)
    endpoint = serving_endpoint(cloud, blue_config)
    watch = alarm(cloudwatch, endpoint)
    all_at_once = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 400},
            "TerminationWaitInSeconds": 300,
            "MaximumExecutionTimeoutInSeconds": 650,
        }
    }
    linear = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "LINEAR",
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 80},
                "WaitIntervalInSeconds": 0,
            }
        }
    }

    # THEN policies SageMaker would refuse are refused before anything starts
    refused = [
        (
            {"DeploymentConfig": canary(wait=0, termination=0, alarms=[watch])},
            "CanarySize (INSTANCE_COUNT 1) must be at most 50% of the variant's instance count "
            "(1), and less than all of it",
        ),
        (
            {"DeploymentConfig": all_at_once},
            "MaximumExecutionTimeoutInSeconds (650) must be greater than the total of the bake "
            "and termination waits of this deployment (700 seconds: 1 step(s) of "
            "WaitIntervalInSeconds 400 plus TerminationWaitInSeconds 300)",
        ),
        (
            {"DeploymentConfig": linear},
            "LinearStepSize (CAPACITY_PERCENT 80) must be 10% to 50% of the variant's instance "
            "count (1): 1 instance(s) is not",
        ),
        (
            {"ExcludeRetainedVariantProperties": [{"VariantPropertyType": "DesiredWeight"}]},
            "ExcludeRetainedVariantProperties applies only when RetainAllVariantProperties is true",
        ),
    ]
    for request, message in refused:
        with pytest.raises(ClientError) as excinfo:
            cloud.sagemaker.update_endpoint(
                EndpointName=endpoint, EndpointConfigName=green_config, **request
            )
        assert error_of(excinfo) == ("ValidationException", message)

    cloud.sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=endpoint,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 2}],
    )
    cloud.wait_endpoint_settled(endpoint)
    missing = unique("missing")
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.update_endpoint(
            EndpointName=endpoint,
            EndpointConfigName=green_config,
            RetainAllVariantProperties=True,
            DeploymentConfig=canary(wait=0, termination=0, alarms=[watch, missing]),
        )
    assert error_of(excinfo) == (
        "ValidationException",
        f"The AutoRollbackConfiguration alarm(s) {missing} do not exist in account "
        "123456789012 in us-east-1",
    )
    assert cloud.sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"

    # WHEN it is updated retaining the variant's properties THEN the new fleet has 2 instances,
    # not its configuration's 1 (the default would reset what an autoscaler set), and captures
    # as the old one did
    cloud.sagemaker.update_endpoint(
        EndpointName=endpoint,
        EndpointConfigName=green_config,
        RetainAllVariantProperties=True,
        DeploymentConfig=canary(wait=0, termination=0, alarms=[watch]),
    )
    described = cloud.wait_endpoint_settled(endpoint)
    assert described["EndpointConfigName"] == green_config, described.get("FailureReason")
    (variant,) = described["ProductionVariants"]
    assert (variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]) == (2, 2)
    assert described["DataCaptureConfig"]["DestinationS3Uri"] == f"s3://{BUCKET}/{prefix}"
    invoke(cloud, endpoint, csv_body(rows[:1], header=False), "text/csv")
    wait_for(lambda: count_captured(cloud, f"s3://{BUCKET}/{prefix}") == 1, timeout=10)
    cloud.sagemaker.delete_endpoint(EndpointName=endpoint)
