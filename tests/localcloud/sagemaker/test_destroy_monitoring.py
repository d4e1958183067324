"""`make destroy` deletes the monitoring schedules of the project's endpoints and the job
definitions that watch them, and no other project's, against the local SageMaker (moto has no
monitoring schedules)."""

from __future__ import annotations

import pytest

from scripts.aws_stacks.destroy import delete_monitoring
from tests.localcloud.sagemaker.conftest import BUCKET, Cloud, capture_config, unique
from tests.localcloud.sagemaker.test_monitoring_schedules import (
    model_quality_definition,
    schedule_config,
)


def capturing_endpoint(cloud: Cloud, model_name: str, name: str) -> str:
    """An endpoint of this name that captures (CreateEndpoint sent)."""
    config = unique("config")
    cloud.create_endpoint_config(config, model_name, DataCaptureConfig=capture_config(unique("c")))
    cloud.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config)
    return name


def test_destroy_deletes_the_projects_monitoring_and_only_its(
    cloud: Cloud, model_name: str, baseline_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN prod of a project and of one named like it, each with an hourly data-quality
    # schedule and a model-quality one on a job definition
    project = unique("proj")
    made = {}
    for owner in (project, f"{project}-v2"):
        endpoint = capturing_endpoint(cloud, model_name, f"{owner}-prod")
        cloud.sagemaker.create_monitoring_schedule(
            MonitoringScheduleName=f"{owner}-prod-data-quality",
            MonitoringScheduleConfig=schedule_config(endpoint, baseline_uri, "cron(0 * ? * * *)"),
        )
        definition = model_quality_definition(cloud, endpoint, f"s3://{BUCKET}/labels", 5.0)
        cloud.sagemaker.create_monitoring_schedule(
            MonitoringScheduleName=f"{owner}-prod-model-quality",
            MonitoringScheduleConfig={
                "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                "MonitoringJobDefinitionName": definition,
                "MonitoringType": "ModelQuality",
            },
        )
        made[owner] = definition
    # WHEN destroy deletes the project's monitoring
    delete_monitoring(cloud.sagemaker, project)
    # THEN its schedules and definition are gone, the other project's are untouched
    out = capsys.readouterr().out
    assert "monitoring schedules: deleted 2" in out
    assert "monitoring job definitions: deleted 1" in out
    schedules = cloud.sagemaker.list_monitoring_schedules(NameContains=project)
    assert sorted(
        s["MonitoringScheduleName"] for s in schedules["MonitoringScheduleSummaries"]
    ) == [
        f"{project}-v2-prod-data-quality",
        f"{project}-v2-prod-model-quality",
    ]
    for owner, endpoint in ((project, f"{project}-prod"), (f"{project}-v2", f"{project}-v2-prod")):
        listed = cloud.sagemaker.list_model_quality_job_definitions(EndpointName=endpoint)
        names = [d["MonitoringJobDefinitionName"] for d in listed["JobDefinitionSummaries"]]
        assert names == ([] if owner == project else [made[owner]])
    # WHEN destroy runs again THEN it says nothing is left, and succeeds
    delete_monitoring(cloud.sagemaker, project)
    out = capsys.readouterr().out
    assert "monitoring schedules: none left" in out
    assert "monitoring job definitions: none left" in out
