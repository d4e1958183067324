"""What a user watches through boto3: CloudWatch Logs, endpoint metrics, response streams.

Training and endpoint output lands under SageMaker's log groups and stream names; a ModelError
names a log group that exists; invocations show up as AWS/SageMaker metrics; and
InvokeEndpointWithResponseStream answers with an event stream boto3 reads.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.localcloud.sagemaker.conftest import Cloud, start_endpoint, wait_for

CSV_RECORD = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15"


@pytest.fixture(scope="module")
def logs() -> Any:
    """A CloudWatch Logs client on the cloud (the ambient endpoint: moto)."""
    return boto3.session.Session().client("logs")


def messages(logs: Any, group: str, prefix: str) -> list[dict[str, Any]]:
    """Every event of the group's streams under `prefix`, through the paginators.

    The streams are looked up first: moto's FilterLogEvents ignores logStreamNamePrefix.
    """
    streams = [
        stream["logStreamName"]
        for page in logs.get_paginator("describe_log_streams").paginate(
            logGroupName=group, logStreamNamePrefix=prefix
        )
        for stream in page["logStreams"]
    ]
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=group, logStreamNames=streams
    )
    return [event for page in pages for event in page["events"]] if streams else []


def test_training_output_is_in_the_training_jobs_log_group(
    logs: Any, trained_job: dict[str, Any]
) -> None:
    name = trained_job["TrainingJobName"]
    events = messages(logs, "/aws/sagemaker/TrainingJobs", f"{name}/")
    assert any("validation:mse=" in event["message"] for event in events)
    (stream,) = {event["logStreamName"] for event in events}
    assert re.fullmatch(rf"{name}/algo-1-\d{{10}}", stream)
    assert all(event["message"] for event in events)


def test_endpoint_output_is_in_its_log_group_per_instance(
    cloud: Cloud, logs: Any, endpoint: str
) -> None:
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    events = wait_for(lambda: messages(logs, group, "AllTraffic/"), timeout=10)
    assert re.fullmatch(r"AllTraffic/i-0[0-9a-f]{16}", events[0]["logStreamName"])


def test_a_model_error_names_the_endpoints_existing_log_group(
    cloud: Cloud, logs: Any, endpoint: str
) -> None:
    with pytest.raises(cloud.runtime.exceptions.ModelError) as excinfo:
        cloud.runtime.invoke_endpoint(
            EndpointName=endpoint, Body=b'{"no_instances": []}', ContentType="application/json"
        )
    arn = excinfo.value.response["LogStreamArn"]
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    described = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [g["logGroupName"] for g in described] == [group]
    assert arn == f"arn:aws:logs:us-east-1:123456789012:log-group:{group}"
    assert described[0]["arn"].removesuffix(":*") == arn


def test_response_stream_is_one_payload_part_with_the_whole_answer(
    cloud: Cloud, endpoint: str
) -> None:
    plain = cloud.runtime.invoke_endpoint(
        EndpointName=endpoint, Body=CSV_RECORD, ContentType="text/csv", Accept="application/json"
    )
    streamed = cloud.runtime.invoke_endpoint_with_response_stream(
        EndpointName=endpoint, Body=CSV_RECORD, ContentType="text/csv", Accept="application/json"
    )
    events = list(streamed["Body"])
    assert [list(event) for event in events] == [["PayloadPart"]]
    assert events[0]["PayloadPart"]["Bytes"] == plain["Body"].read()
    assert streamed["ContentType"] == plain["ContentType"]
    assert streamed["InvokedProductionVariant"] == "AllTraffic"


def test_response_stream_refuses_what_it_does_not_serve(cloud: Cloud, endpoint: str) -> None:
    with pytest.raises(cloud.runtime.exceptions.ValidationError) as excinfo:
        cloud.runtime.invoke_endpoint_with_response_stream(
            EndpointName=endpoint, Body=CSV_RECORD, ContentType="text/csv", TargetVariant="x"
        )
    assert "TargetVariant" in excinfo.value.response["Error"]["Message"]


def statistics(
    cloudwatch: Any, dimensions: dict[str, str], metric: str, *stats: str, unit: str = "None"
) -> dict[str, float]:
    """Each statistic of an endpoint metric over the last ten minutes, for exactly these
    dimensions, in `unit` (GetMetricData: moto's GetMetricStatistics also counts any metric
    whose dimensions include these, which CloudWatch does not)."""
    now = datetime.now(UTC)
    metric_spec = {
        "Namespace": "AWS/SageMaker",
        "MetricName": metric,
        "Dimensions": [{"Name": name, "Value": value} for name, value in dimensions.items()],
    }
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": stat.lower(),
                "MetricStat": {"Metric": metric_spec, "Period": 600, "Stat": stat, "Unit": unit},
            }
            for stat in stats
        ],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
    )
    named = {stat.lower(): stat for stat in stats}
    return {
        named[result["Id"]]: result["Values"][0]
        for result in answer["MetricDataResults"]
        if result["Values"]
    }


def test_invocations_are_published_as_aws_sagemaker_metrics(
    cloud: Cloud, cloudwatch: Any, model_name: str
) -> None:
    # GIVEN a fresh endpoint, 9 good invocations and one the container answers with a 4xx
    endpoint, _ = start_endpoint(cloud, model_name)
    assert cloud.wait_endpoint_settled(endpoint)["EndpointStatus"] == "InService"
    config = cloud.sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    for _ in range(9):
        cloud.runtime.invoke_endpoint(
            EndpointName=endpoint, Body=CSV_RECORD, ContentType="text/csv"
        )
    with pytest.raises(cloud.runtime.exceptions.ModelError):
        cloud.runtime.invoke_endpoint(
            EndpointName=endpoint, Body=b"{}", ContentType="application/json"
        )
    variant = {"EndpointName": endpoint, "VariantName": "AllTraffic"}
    fleet = {**variant, "EndpointConfigName": config}

    # THEN CloudWatch has them, per variant and per variant and configuration alike: counts,
    # the error rate and latencies in microseconds
    def counted() -> dict[str, float]:
        points = statistics(cloudwatch, variant, "Invocations", "Sum", "SampleCount")
        return points if points.get("Sum") == 10 else {}

    assert wait_for(counted, timeout=10)["SampleCount"] == 10
    for dimensions in (variant, fleet):
        assert statistics(cloudwatch, dimensions, "Invocations", "Sum") == {"Sum": 10}
        errors = statistics(cloudwatch, dimensions, "Invocation4XXErrors", "Sum", "Average")
        assert errors == {"Sum": 1, "Average": 0.1}
        assert statistics(cloudwatch, dimensions, "Invocation5XXErrors", "Sum") == {"Sum": 0}
        model = statistics(
            cloudwatch,
            dimensions,
            "ModelLatency",
            "SampleCount",
            "Minimum",
            "Maximum",
            unit="Microseconds",
        )
        assert model["SampleCount"] == 10
        assert 0 < model["Minimum"] <= model["Maximum"] < 5_000_000
        overhead = statistics(
            cloudwatch,
            dimensions,
            "OverheadLatency",
            "SampleCount",
            "Maximum",
            unit="Microseconds",
        )
        assert overhead["SampleCount"] == 10
        assert 0 <= overhead["Maximum"] < 1_000_000
    cloud.sagemaker.delete_endpoint(EndpointName=endpoint)
