"""A stack launched with a bad hyperparameter: the run stops at Train, naming the culprit.

TrainModel checks the keys and values with the container's own table before any training job;
what only the data can refute (a declared column the channel lacks) fails the training job.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from localcloud.background import free_port
from localcloud.cloud import CloudSettings, LocalCloud


@pytest.mark.parametrize(
    ("hyperparameters", "failed_action", "reason"),
    [
        ({"alpha": "-1"}, "TrainModel", "alpha='-1' is invalid"),
        ({"categorical_columns": "colour"}, "TrainStatus", "colour"),
    ],
)
def test_a_bad_hyperparameter_stops_the_run_at_train_with_the_containers_reason(
    tmp_path: Path,
    lambda_zips: Path,
    hyperparameters: dict[str, str],
    failed_action: str,
    reason: str,
) -> None:
    # GIVEN a pipeline stack whose Hyperparameters parameter holds a bad value
    cloud = LocalCloud(
        CloudSettings(
            state_dir=tmp_path / ".localcloud",
            gateway_port=free_port(),
            dist=lambda_zips,
            pipeline_parameters={"Hyperparameters": json.dumps(hyperparameters)},
        )
    )
    cloud.start(progress=lambda message: None)
    try:
        # WHEN the pipeline runs
        report = cloud.run_pipeline(lambda *_: (True, "approved by the test"))
        # THEN it stops at Train, in the action that could tell, naming the culprit
        assert report.status == "Failed"
        assert report.message.startswith(f"Train/{failed_action}:"), report.message
        assert reason in report.message
        jobs = boto3.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]
        if failed_action == "TrainModel":
            assert jobs == []  # refused before any training job started
        else:
            described = boto3.client("sagemaker").describe_training_job(
                TrainingJobName=report.artifacts["TrainJob"]["TrainingJobName"]
            )
            assert described["TrainingJobStatus"] == "Failed"
            assert reason in described["FailureReason"]
        # AND nothing was deployed
        assert [stage.name for stage in report.stages][-1] == "Train"
        assert boto3.client("sagemaker").list_endpoints()["Endpoints"] == []
    finally:
        cloud.stop()
