"""Data capture and ground truth in the pipeline template: where capture goes, who may write and
read it, how long it stays, and the parameters that steer it."""

from __future__ import annotations

from typing import Any

from tests.templates.conftest import as_list, identity_statements, load_template

CAPTURE_URI = {"Fn::Sub": "s3://${DataBucket}/capture"}
PROJECT_PARTS = {"Project": {"Fn::ImportValue": {"Fn::Sub": "${PrepStackName}-ProjectName"}}}


def _environment(template: dict[str, Any], function: str) -> dict[str, Any]:
    return template["Resources"][function]["Properties"]["Environment"]["Variables"]


def _statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [s for r, s in identity_statements(template) if r == role]


def _project_sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": [text, PROJECT_PARTS]}


def test_deploy_model_captures_to_the_data_buckets_capture_prefix_as_the_parameters_say():
    template = load_template("pipeline")
    variables = _environment(template, "DeployModelFunction")
    assert variables["DATA_CAPTURE_S3_URI"] == CAPTURE_URI
    assert variables["CAPTURE_SAMPLING_PERCENTAGE"] == {"Ref": "CaptureSamplingPercentage"}
    assert variables["CAPTURE_DEV"] == {"Ref": "CaptureDev"}
    # ... and GroundTruth looks for the captured ids where DeployModel has them written
    ground_truth = _environment(template, "GroundTruthFunction")
    assert ground_truth["DATA_CAPTURE_S3_URI"] == variables["DATA_CAPTURE_S3_URI"]
    assert ground_truth["GROUND_TRUTH_S3_URI"] == {"Fn::Sub": "s3://${DataBucket}/ground-truth"}
    assert ground_truth["LOOKBACK_HOURS"] == {"Ref": "GroundTruthLookbackHours"}


def test_capture_and_ground_truth_expire_after_the_retention_parameter():
    bucket = load_template("pipeline")["Resources"]["DataBucket"]["Properties"]
    rules = {r.get("Prefix"): r for r in bucket["LifecycleConfiguration"]["Rules"]}
    for prefix in ("capture/", "ground-truth/"):
        assert rules[prefix]["Status"] == "Enabled"
        assert rules[prefix]["ExpirationInDays"] == {"Ref": "CaptureRetentionDays"}
        assert rules[prefix]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}


def test_the_models_role_may_write_capture_and_batch_output_and_nothing_else_of_the_data_bucket():
    template = load_template("pipeline")
    writes = [
        s
        for s in _statements(template, "SageMakerExecutionRole")
        if "DataBucket" in str(s["Resource"])
        and set(as_list(s["Action"])) - {"s3:GetObject", "s3:ListBucket"}
    ]
    assert writes == [
        {
            "Sid": "WriteDataCapture",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": {"Fn::Sub": "${DataBucket.Arn}/capture/*"},
        },
        {
            "Sid": "WriteBatchOutput",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
            "Resource": {"Fn::Sub": "${DataBucket.Arn}/batch/output/*"},
        },
    ]


def test_the_ground_truth_role_reads_the_two_endpoints_folders_and_writes_only_ground_truth():
    template = load_template("pipeline")
    statements = {s["Sid"]: s for s in _statements(template, "GroundTruthRole")}
    assert set(statements) == {
        "WriteLogs",
        "ListCaptureAndGroundTruth",
        "ReadCaptureAndGroundTruth",
        "WriteGroundTruth",
    }
    folders = [
        f"{kind}/${{Project}}-{env}/*"
        for kind in ("capture", "ground-truth")
        for env in ("dev", "prod")
    ]
    listing = statements["ListCaptureAndGroundTruth"]
    assert (listing["Action"], listing["Resource"]) == (
        "s3:ListBucket",
        {"Fn::GetAtt": ["DataBucket", "Arn"]},
    )
    assert listing["Condition"] == {
        "StringLike": {"s3:prefix": [_project_sub(folder) for folder in folders]}
    }
    reading = statements["ReadCaptureAndGroundTruth"]
    assert reading["Action"] == "s3:GetObject"
    assert reading["Resource"] == [_project_sub(f"${{DataBucket.Arn}}/{f}") for f in folders]
    writing = statements["WriteGroundTruth"]
    assert (writing["Action"], writing["Resource"]) == (
        "s3:PutObject",
        {"Fn::Sub": "${DataBucket.Arn}/ground-truth/*"},
    )
