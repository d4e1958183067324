"""Batch scoring in the pipeline template: the two rules and their functions, the prefixes the
outputs name, and the roles scoped to exactly that (the transform jobs' role included)."""

from __future__ import annotations

from typing import Any

from tests.templates.conftest import identity_statements, load_template, resources_of_type

PROJECT_PARTS = {"Project": {"Fn::ImportValue": {"Fn::Sub": "${PrepStackName}-ProjectName"}}}
JOB_ARN = (
    "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:"
    "transform-job/${Project}-batch-????????-??????-????????"
)


def _project_sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": [text, PROJECT_PARTS]}


def _statements(role: str) -> dict[str, dict[str, Any]]:
    template = load_template("pipeline")
    return {s["Sid"]: s for r, s in identity_statements(template) if r == role}


def _environment(function: str) -> dict[str, Any]:
    properties = load_template("pipeline")["Resources"][function]["Properties"]
    return properties["Environment"]["Variables"]


def test_an_upload_under_batch_input_of_the_data_bucket_invokes_start_batch_transform():
    template = load_template("pipeline")
    rule = template["Resources"]["BatchInputRule"]["Properties"]
    assert rule["State"] == "ENABLED"
    assert rule["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [{"Ref": "DataBucket"}]},
            "object": {"key": [{"prefix": "batch/input/"}]},
        },
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["StartBatchTransformFunction", "Arn"]}
    permission = template["Resources"]["BatchInputRulePermission"]["Properties"]
    assert permission["FunctionName"] == {"Ref": "StartBatchTransformFunction"}
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["BatchInputRule", "Arn"]}
    # ... the bucket sends its events to EventBridge (as for pipeline/data.zip)
    bucket = template["Resources"]["DataBucket"]["Properties"]
    assert bucket["NotificationConfiguration"]["EventBridgeConfiguration"] == {
        "EventBridgeEnabled": True
    }


def test_the_projects_batch_jobs_ending_invoke_report_batch_transform():
    template = load_template("pipeline")
    rule = template["Resources"]["BatchTransformEndRule"]["Properties"]
    assert rule["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Transform Job State Change"],
        "detail": {
            "TransformJobName": [{"prefix": _project_sub("${Project}-batch-")}],
            "TransformJobStatus": ["Completed", "Failed", "Stopped"],
        },
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["ReportBatchTransformFunction", "Arn"]}
    permission = template["Resources"]["BatchTransformEndRulePermission"]["Properties"]
    assert permission["FunctionName"] == {"Ref": "ReportBatchTransformFunction"}
    assert permission["SourceArn"] == {"Fn::GetAtt": ["BatchTransformEndRule", "Arn"]}


def test_the_functions_get_the_project_the_bucket_the_topic_and_the_instance_type():
    common = {
        "PROJECT_NAME": PROJECT_PARTS["Project"],
        "DATA_BUCKET": {"Ref": "DataBucket"},
        "NOTIFICATION_TOPIC_ARN": {"Ref": "NotificationTopic"},
        "LOG_LEVEL": {"Ref": "LogLevel"},
    }
    assert _environment("StartBatchTransformFunction") == {
        **common,
        "BATCH_INSTANCE_TYPE": {"Ref": "BatchInstanceType"},
    }
    assert _environment("ReportBatchTransformFunction") == common
    parameter = load_template("pipeline")["Parameters"]["BatchInstanceType"]
    assert parameter["Default"] == "ml.m5.large"


def test_the_outputs_name_the_two_prefixes_as_s3_uris():
    outputs = load_template("pipeline")["Outputs"]
    assert outputs["BatchInputUri"]["Value"] == {"Fn::Sub": "s3://${DataBucket}/batch/input/"}
    assert outputs["BatchOutputUri"]["Value"] == {"Fn::Sub": "s3://${DataBucket}/batch/output/"}


def test_the_starter_describes_only_prod_and_creates_only_the_projects_batch_jobs():
    statements = _statements("StartBatchTransformRole")
    assert set(statements) == {
        "WriteLogs",
        "ReadWhatProdServes",
        "StartBatchTransformJobs",
        "NotifyNotStarted",
    }
    prod = statements["ReadWhatProdServes"]
    assert prod["Action"] == ["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig"]
    arn = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}"
    assert prod["Resource"] == [
        _project_sub(f"{arn}:endpoint/${{Project}}-prod"),
        _project_sub(f"{arn}:endpoint-config/${{Project}}-prod-????????-??????-????"),
    ]
    jobs = statements["StartBatchTransformJobs"]
    assert jobs["Action"] == ["sagemaker:AddTags", "sagemaker:CreateTransformJob"]
    assert jobs["Resource"] == _project_sub(JOB_ARN)
    notify = statements["NotifyNotStarted"]
    assert (notify["Action"], notify["Resource"]) == ("sns:Publish", {"Ref": "NotificationTopic"})
    # CreateTransformJob takes no role: the job runs with its model's
    assert not any("iam:" in str(s["Action"]) for s in statements.values())


def test_the_reporter_reads_only_batch_input_and_output():
    statements = _statements("ReportBatchTransformRole")
    assert set(statements) == {"WriteLogs", "CountBatchInputAndOutput", "NotifyBatchResults"}
    reading = statements["CountBatchInputAndOutput"]
    assert reading["Action"] == "s3:GetObject"
    assert reading["Resource"] == [
        {"Fn::Sub": "${DataBucket.Arn}/batch/input/*"},
        {"Fn::Sub": "${DataBucket.Arn}/batch/output/*"},
    ]
    notify = statements["NotifyBatchResults"]
    assert (notify["Action"], notify["Resource"]) == ("sns:Publish", {"Ref": "NotificationTopic"})


def test_the_transform_jobs_read_batch_input_and_write_batch_output_and_their_logs():
    statements = _statements("SageMakerExecutionRole")
    listing = statements["ListBatchInput"]
    assert (listing["Action"], listing["Resource"]) == (
        "s3:ListBucket",
        {"Fn::GetAtt": ["DataBucket", "Arn"]},
    )
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "batch/input/*"}}
    assert statements["ReadBatchInput"]["Resource"] == {
        "Fn::Sub": "${DataBucket.Arn}/batch/input/*"
    }
    writing = statements["WriteBatchOutput"]
    assert writing["Action"] == ["s3:AbortMultipartUpload", "s3:PutObject"]  # multipart too
    assert writing["Resource"] == {"Fn::Sub": "${DataBucket.Arn}/batch/output/*"}
    logs = statements["WriteTransformJobLogs"]["Resource"]
    assert logs == _project_sub(
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
        "/aws/sagemaker/TransformJobs:log-stream:${Project}-batch-????????-??????-????????/*"
    )


def test_each_batch_function_has_its_own_role_and_log_group():
    functions = resources_of_type(load_template("pipeline"), "AWS::Lambda::Function")
    for name in ("StartBatchTransform", "ReportBatchTransform"):
        properties = functions[f"{name}Function"]["Properties"]
        assert properties["Role"] == {"Fn::GetAtt": [f"{name}Role", "Arn"]}
        assert properties["LoggingConfig"] == {"LogGroup": {"Ref": f"{name}LogGroup"}}
