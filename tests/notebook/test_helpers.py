"""The notebook's helpers: the AWS path against moto, progress tables, uploads, the picture."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import boto3
import pandas as pd
import pytest
from moto import mock_aws
from PIL import Image

from localcloud.codepipeline import CodePipelineService
from localcloud.codepipeline.definition import Action, PipelineDefinition, Stage
from localcloud.core.signing import Credentials
from localcloud.stacks import upload_training_data
from notebooks.draw_architecture import draw, stages_metadata, template_stages
from notebooks.walkthrough import aws, batch, connect, data, progress
from notebooks.walkthrough.progress import STAGE_NOTES, Approval, StageInfo

REGION = "eu-west-1"
PREP_TEMPLATE = {
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {"ProjectName": {"Value": "demo"}},
}
PIPELINE_OUTPUTS = {
    "DevPredictUrl": "https://api.example/dev/predict",
    "ProdPredictUrl": "https://api.example/prod/predict",
    "PipelineName": "demo-pipeline",
    "DataBucketName": "demo-data",
    "ModelBucketName": "demo-models",
}
PIPELINE_TEMPLATE = {
    "Parameters": {"PrepStackName": {"Type": "String"}, "KeyId": {"Type": "String"}},
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {
        "ApiKeyId": {"Value": {"Ref": "KeyId"}},
        **{name: {"Value": value} for name, value in PIPELINE_OUTPUTS.items()},
    },
}
STAGES = [
    StageInfo("Source", (("ModelCode", "CodeCommit"),)),
    StageInfo("Approve", (("ApproveProd", "manual approval"),)),
    StageInfo("DeployProd", (("DeployProdModel", "λ DeployModel"),)),
]


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    """An AWS account in moto, in a region other than the local cloud's."""
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.Session(region_name=REGION)


def aws_config(session: boto3.Session, tmp_path: Path) -> connect.Config:
    return connect.Config(
        target="aws",
        session=session,
        project="demo",
        pipeline_name="demo-pipeline",
        data_bucket="demo-data",
        model_bucket="demo-models",
        dev_predict_url="https://api.example/dev/predict",
        prod_predict_url="https://api.example/prod/predict",
        api_key="key",
        work_dir=tmp_path,
        control=aws.CodePipelineControl(session, "demo-pipeline"),
        clean_up=partial(aws.destroy_stacks, "demo"),
    )


def test_connect_aws_reads_the_stack_outputs_the_prep_stack_and_the_key(
    session: boto3.Session,
) -> None:
    # GIVEN both stacks and the API key, as the console walkthrough leaves them
    cfn = session.client("cloudformation")
    cfn.create_stack(StackName="my-prep", TemplateBody=json.dumps(PREP_TEMPLATE))
    key = session.client("apigateway").create_api_key(name="demo-key", enabled=True)
    cfn.create_stack(
        StackName="my-pipeline",
        TemplateBody=json.dumps(PIPELINE_TEMPLATE),
        Parameters=[
            {"ParameterKey": "PrepStackName", "ParameterValue": "my-prep"},
            {"ParameterKey": "KeyId", "ParameterValue": key["id"]},
        ],
    )
    # WHEN the notebook connects with the pipeline stack's name only
    config = connect.connect_aws(session, "my-pipeline")
    # THEN every name comes from the stacks, the key's value from API Gateway
    assert (config.target, config.region, config.project) == ("aws", REGION, "demo")
    assert (config.data_bucket, config.model_bucket) == ("demo-data", "demo-models")
    assert config.pipeline_name == "demo-pipeline"
    assert config.prod_predict_url == PIPELINE_OUTPUTS["ProdPredictUrl"]
    assert config.dev_predict_url == PIPELINE_OUTPUTS["DevPredictUrl"]
    assert config.api_key == key["value"]
    assert (config.dev_endpoint, config.prod_endpoint) == ("demo-dev", "demo-prod")
    assert isinstance(config.control, aws.CodePipelineControl)
    assert config.summary().loc["API key", "value"] == key["value"][:6] + "…"


def test_connect_refuses_an_unknown_target() -> None:
    with pytest.raises(ValueError, match="TARGET must be 'local' or 'aws', not 'elsewhere'"):
        connect.connect("elsewhere")


def test_the_trigger_zip_is_replaced_only_when_the_data_changed(
    session: boto3.Session, tmp_path: Path, abalone_splits: Path
) -> None:
    # GIVEN the data bucket as the local cloud fills it (same manifest format)
    config = aws_config(session, tmp_path)
    s3 = session.client("s3")
    s3.create_bucket(
        Bucket=config.data_bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    upload_training_data(session, config.data_bucket, abalone_splits)
    splits = {n: pd.read_csv(abalone_splits / n / f"{n}.csv") for n in data.SPLITS}
    # WHEN the notebook uploads the same splits, THEN data.zip (the AWS trigger) stays
    table = data.upload_splits(config, splits)
    assert table.loc[data.DATA_TRIGGER_KEY, "upload"] == "unchanged: not replaced"
    assert table.loc["test/test.csv", "upload"] == "uploaded"
    # WHEN a split changes, THEN data.zip is replaced with the new manifest
    splits["test"].loc[0, "rings"] += 1
    table = data.upload_splits(config, splits)
    assert table.loc[data.DATA_TRIGGER_KEY, "upload"] == "uploaded (the data changed)"
    body = s3.get_object(Bucket=config.data_bucket, Key=data.DATA_TRIGGER_KEY)["Body"].read()
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(body)).read("manifest.json"))
    test_csv = s3.get_object(Bucket=config.data_bucket, Key="test/test.csv")["Body"].read()
    assert set(manifest) == {f"{n}/{n}.csv" for n in data.SPLITS}
    assert manifest["test/test.csv"] == hashlib.md5(test_csv, usedforsecurity=False).hexdigest()


def test_aws_progress_marks_stages_of_older_runs_pending_and_finds_the_approval() -> None:
    state = {
        "pipelineName": "demo-pipeline",
        "stageStates": [
            {
                "stageName": "Source",
                "latestExecution": {"pipelineExecutionId": "new", "status": "Succeeded"},
                "actionStates": [
                    {
                        "actionName": "ModelCode",
                        "latestExecution": {"status": "Succeeded", "summary": "commit abc"},
                    }
                ],
            },
            {
                "stageName": "Approve",
                "latestExecution": {"pipelineExecutionId": "new", "status": "InProgress"},
                "actionStates": [
                    {
                        "actionName": "ApproveProd",
                        "latestExecution": {"status": "InProgress", "token": "t-1"},
                    }
                ],
            },
            {
                "stageName": "DeployProd",
                "latestExecution": {"pipelineExecutionId": "old", "status": "Succeeded"},
                "actionStates": [
                    {"actionName": "DeployProdModel", "latestExecution": {"status": "Succeeded"}}
                ],
            },
        ],
    }
    execution = {"pipelineExecutionId": "new", "status": "InProgress"}
    seconds = {("Source", "ModelCode"): 2.5, ("DeployProd", "DeployProdModel"): 9.0}
    progress = aws.progress_from_aws(state, execution, STAGES, seconds)
    assert [a.status for a in progress.actions] == ["Succeeded", "InProgress", "Pending"]
    assert [a.seconds for a in progress.actions] == [2.5, None, None]
    assert progress.actions[0].note == "commit abc"
    assert progress.approval == Approval("Approve", "ApproveProd", "t-1")
    assert "waiting for approval" in progress._repr_html_()


def test_action_times_are_read_from_list_action_executions() -> None:
    started = datetime(2026, 1, 1, tzinfo=UTC)
    details = [
        {
            "stageName": "Source",
            "actionName": "ModelCode",
            "status": "Succeeded",
            "startTime": started,
            "lastUpdateTime": started + timedelta(seconds=2.5),
        },
        {
            "stageName": "Approve",
            "actionName": "ApproveProd",
            "status": "InProgress",
            "startTime": datetime.now(UTC) - timedelta(seconds=30),
            "lastUpdateTime": started,
        },
    ]
    seconds = aws.action_seconds(details)
    assert seconds[("Source", "ModelCode")] == 2.5
    assert 30 <= seconds[("Approve", "ApproveProd")] < 40


def test_aws_clean_up_deletes_nothing_without_confirmation(
    session: boto3.Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("clean_up ran a command without confirmation")

    monkeypatch.setattr(subprocess, "run", refuse)
    aws_config(session, tmp_path).clean_up(False)
    out = capsys.readouterr().out
    assert "Nothing deleted" in out
    assert "-m scripts.aws_stacks destroy --project demo" in out


def test_the_committed_architecture_picture_is_drawn_from_the_template(tmp_path: Path) -> None:
    # GIVEN the stage list of the pipeline template
    stages = template_stages()
    assert [s.name for s in stages][:2] == ["Source", "Build"]
    assert all(s.name in STAGE_NOTES for s in stages), "describe every stage in STAGE_NOTES"
    # THEN the committed picture carries that list, and redrawing it changes no pixel
    committed = Image.open(progress.ARCHITECTURE_PNG)
    assert committed.text["Stages"] == stages_metadata(stages)
    draw(stages, tmp_path / "architecture.png")
    redrawn = Image.open(tmp_path / "architecture.png")
    stale = "notebooks/architecture.png is stale: python -m notebooks.draw_architecture"
    assert redrawn.size == committed.size, stale
    assert redrawn.tobytes() == committed.tobytes(), stale


DEFINITION = PipelineDefinition(
    name="demo-pipeline",
    artifact_bucket="demo-artifacts",
    stages=(
        Stage(
            "Train",
            (
                Action(
                    "StartTraining", "Invoke", "Lambda", {"FunctionName": "demo-train"}, (), (), 1
                ),
                Action(
                    "WaitForTraining",
                    "Invoke",
                    "Lambda",
                    {"FunctionName": "demo-status"},
                    (),
                    (),
                    2,
                ),
            ),
        ),
        Stage("Approve", (Action("ApproveProd", "Approval", "Manual", {}, (), (), 1),)),
    ),
)


def test_the_notebook_reads_the_local_pipeline_from_get_pipeline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the local CodePipeline serving a two-stage pipeline
    credentials = Credentials.generate()
    service = CodePipelineService(credentials)
    service.pipelines.add_pipeline(DEFINITION, services=lambda model_code: pytest.fail("ran"))
    service.start()
    try:
        session = boto3.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            region_name="us-east-1",
        )
        monkeypatch.setenv("AWS_ENDPOINT_URL_CODEPIPELINE", service.url)  # as connect_local does
        # WHEN the notebook's CodePipeline control asks for the stages
        stages = aws.CodePipelineControl(session, "demo-pipeline").stages()
    finally:
        service.stop()
    # THEN it reads them from GetPipeline's answer, in run order
    assert stages == [
        StageInfo(
            "Train", (("StartTraining", "λ demo-train"), ("WaitForTraining", "λ demo-status"))
        ),
        StageInfo("Approve", (("ApproveProd", "manual approval"),)),
    ]


def test_get_pipeline_actions_are_listed_in_run_order() -> None:
    answer = {
        "pipeline": {
            "stages": [
                {
                    "name": "Train",
                    "actions": [
                        {"name": "Second", "actionTypeId": {"provider": "Manual"}, "runOrder": 2},
                        {"name": "First", "actionTypeId": {"provider": "CodeBuild"}, "runOrder": 1},
                    ],
                }
            ]
        }
    }
    (stage,) = progress.stages_of(answer)
    assert stage.actions == (("First", "CodeBuild"), ("Second", "manual approval"))


def test_aws_clean_up_confirmed_without_the_project_scripts_deletes_nothing(
    session: boto3.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the notebook's copy on the instance: no scripts/aws_stacks next to it
    monkeypatch.setattr(aws, "DESTROY_SCRIPT", tmp_path / "scripts" / "aws_stacks" / "__main__.py")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("ran a command"))
    # WHEN destroying is confirmed, THEN it says where to run it instead
    with pytest.raises(RuntimeError, match="run `make destroy PROJECT=demo` from a clone"):
        aws_config(session, tmp_path).clean_up(True)


def test_batch_records_go_up_headerless_and_the_jobs_predictions_come_back_in_order(
    session: boto3.Session, tmp_path: Path
) -> None:
    # GIVEN the data bucket and two records
    config = aws_config(session, tmp_path)
    s3 = session.client("s3")
    s3.create_bucket(Bucket="demo-data", CreateBucketConfiguration={"LocationConstraint": REGION})
    features = pd.DataFrame(
        {"sex": ["M", "F"], "length": [0.455, 0.53], "shell_weight": [0.15, 0.21]}
    )
    # WHEN they are uploaded for batch scoring
    uri, _ = batch.upload_records(config, features, "records.csv")
    # THEN they sit under the stack's batch input folder as headerless CSV, in column order
    assert uri == "s3://demo-data/batch/input/records.csv"
    body = s3.get_object(Bucket="demo-data", Key="batch/input/records.csv")["Body"].read()
    assert body == b"M,0.455,0.15\nF,0.53,0.21\n"
    # AND a job's predictions are read from <S3OutputPath>/<file>.out, one per line, in order
    described = {
        "TransformInput": {"DataSource": {"S3DataSource": {"S3Uri": uri}}},
        "TransformOutput": {"S3OutputPath": "s3://demo-data/batch/output"},
    }
    assert batch.output_uri(described) == "s3://demo-data/batch/output/records.csv.out"
    s3.put_object(Bucket="demo-data", Key="batch/output/records.csv.out", Body=b"9.5\n10.25\n")
    assert batch.read_predictions(config, described) == [9.5, 10.25]
