"""EvaluateModel: score dev on the test set, compare with prod, record, notify, gate."""

from __future__ import annotations

import io
import json
import math
from datetime import UTC, datetime
from types import ModuleType

import pytest
from botocore.response import StreamingBody
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from tests.lambdas.conftest import (
    IMAGE_URI,
    Cloud,
    JobResults,
    assert_no_secrets,
    create_training_job_in_moto,
    job_event,
    load_module,
)

DEV_ENDPOINT = "demo-pipeline/DevEndpoin/dev.zip"
EVALUATION = "demo-pipeline/Evaluatio/eval.zip"
JOB_NAME = "demo-0123456-20250102-030405"
AGE_JOB = "demo-0123456-20250102-040000"  # trained with target=age
MODEL_URL = f"s3://demo-models/models/{JOB_NAME}/output/model.tar.gz"
# As a spreadsheet may write it: CRLF, a quoted field, a number with a trailing zero.
TEST_CSV = (
    'sex,length,diameter,rings\r\nM,0.455,0.365,10\r\n"F",0.53,0.420,8\r\n'
    "I,0.33,0.255,12\r\nM,0.44,0.365,9\r\n"
)
# What the endpoint gets: the values as the file has them, without the target column, as a
# client sends them (prod captures its requests, and labels there are an extra column).
REQUEST_CSV = "sex,length,diameter\nM,0.455,0.365\nF,0.53,0.420\nI,0.33,0.255\nM,0.44,0.365\n"
# Errors 1, 0, -2, 0 against targets 10, 8, 12, 9: MSE 1.25, MAE 0.75, R² 1 - 5/8.75.
DEV_PREDICTIONS = [11, 8, 10, 9]
WHEN = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def topic(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> str:
    """The SNS topic, with an SQS queue subscribed to read what was published; returns the URL."""
    arn = cloud.sns.create_topic(Name="demo-notifications")["TopicArn"]
    queue_url = cloud.sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = cloud.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    cloud.sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("NOTIFICATION_TOPIC_ARN", arn)
    return queue_url


@pytest.fixture(autouse=True)
def environment(cloud: Cloud, topic: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The template's environment, the test set in the data bucket, the deployment artifact."""
    for name, value in {
        "PROJECT_NAME": "demo",
        "DATA_BUCKET": "demo-data",
        "TEST_KEY": "test/test.csv",
        "MSE_THRESHOLD": "4.6",
        "PROD_TOLERANCE": "0.05",
    }.items():
        monkeypatch.setenv(name, value)
    cloud.s3.create_bucket(Bucket="demo-data")
    cloud.s3.create_bucket(Bucket="demo-models")
    cloud.s3.put_object(Bucket="demo-data", Key="test/test.csv", Body=TEST_CSV.encode())
    create_training_job_in_moto(cloud.sagemaker, JOB_NAME, {"alpha": "0.3"})
    deployed_from(cloud, JOB_NAME)


def deployed_from(cloud: Cloud, job_name: str) -> None:
    """The DevEndpoint artifact: the dev endpoint serving the model of this training job."""
    cloud.put_artifact(
        DEV_ENDPOINT,
        "deployment.json",
        {
            "EndpointName": "demo-dev",
            "EndpointConfigName": "demo-dev-20250102-031000-beef",
            "ModelName": "demo-dev-20250102-031000-beef",
            "ModelDataUrl": MODEL_URL,
            "ImageURI": IMAGE_URI,
            "TrainingJobName": job_name,
            "Environment": "dev",
            "EndpointStatus": "InService",
        },
    )


def event() -> dict:
    """The Evaluate/EvaluateModel job event."""
    return job_event(None, inputs={"DevEndpoint": DEV_ENDPOINT}, outputs={"Evaluation": EVALUATION})


def answer(predictions: object) -> dict:
    """An InvokeEndpoint response with this JSON body."""
    body = json.dumps({"predictions": predictions}).encode()
    return {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "application/json"}


def expect_invoke(runtime, endpoint: str, predictions: object, body: str = REQUEST_CSV) -> None:
    """The endpoint gets these records of the test file and answers these predictions."""
    runtime.add_response(
        "invoke_endpoint",
        answer(predictions),
        {
            "EndpointName": endpoint,
            "Body": body.encode(),
            "ContentType": "text/csv",
            "Accept": "application/json",
        },
    )


def expect_prod(sagemaker, status: str) -> None:
    """Under Stubber: the training job as moto has it, then demo-prod in this status."""
    sagemaker.add_response(
        "describe_training_job",
        {
            "TrainingJobName": JOB_NAME,
            "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{JOB_NAME}",
            "ModelArtifacts": {"S3ModelArtifacts": MODEL_URL},
            "TrainingJobStatus": "Completed",
            "SecondaryStatus": "Completed",
            "HyperParameters": {"alpha": "0.3"},
            "AlgorithmSpecification": {"TrainingInputMode": "File"},
            "ResourceConfig": {"VolumeSizeInGB": 10},
            "StoppingCondition": {},
            "CreationTime": WHEN,
        },
        {"TrainingJobName": JOB_NAME},
    )
    sagemaker.add_response(
        "describe_endpoint",
        {
            "EndpointName": "demo-prod",
            "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/demo-prod",
            "EndpointConfigName": "demo-prod-20241201-120000-00a1",
            "EndpointStatus": status,
            "CreationTime": WHEN,
            "LastModifiedTime": WHEN,
        },
        {"EndpointName": "demo-prod"},
    )


def notification(cloud: Cloud, queue_url: str) -> dict:
    """The one SNS notification published."""
    messages = cloud.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    return json.loads(messages[0]["Body"])


def test_a_good_model_passes_and_everyone_hears_of_it(
    evaluate_model: ModuleType, cloud: Cloud, pipeline: JobResults, stub, topic, capsys
):
    # GIVEN a dev model off by 1 and 2 on two of four records, and no prod endpoint (moto)
    expect_invoke(stub(evaluate_model.RUNTIME), "demo-dev", DEV_PREDICTIONS)
    pipeline.expect_success()
    # WHEN the gate runs
    evaluate_model.handler(event(), None)
    # THEN it passes, and says why in numbers
    reason = (
        "Gate passed: MSE 1.2500 within the threshold 4.6; "
        "no prod endpoint demo-prod: comparison with prod skipped"
    )
    assert pipeline.summary_text == reason
    # ... evaluation.json is in the output artifact and next to the model, identical
    evaluation = cloud.read_artifact(EVALUATION, "evaluation.json")
    beside_model = cloud.s3.get_object(
        Bucket="demo-models", Key=f"models/{JOB_NAME}/output/evaluation.json"
    )["Body"].read()
    assert json.loads(beside_model) == evaluation
    assert evaluation == {
        "metrics": {
            "mse": 1.25,
            "rmse": math.sqrt(1.25),
            "mae": 0.75,
            "r2": pytest.approx(1 - 5 / 8.75),
        },
        "records": 4,
        "threshold": 4.6,
        "prod_mse": None,
        "tolerance": 0.05,
        "passed": True,
        "reason": reason,
        "endpoint": "demo-dev",
        "model_data_url": MODEL_URL,
        "training_job": JOB_NAME,
        "image_uri": IMAGE_URI,
    }
    # ... and the topic carried the summary
    published = notification(cloud, topic)
    assert published["Subject"] == "demo model evaluation passed"
    assert published["Message"].startswith(reason)
    assert "MSE 1.2500  RMSE 1.1180  MAE 0.7500  R2 0.4286" in published["Message"]
    assert_no_secrets(cloud, capsys.readouterr().out, published["Message"])


def test_a_model_over_the_threshold_fails_the_gate(evaluate_model, cloud, pipeline, stub, topic):
    # GIVEN a dev model off by 5 everywhere
    expect_invoke(stub(evaluate_model.RUNTIME), "demo-dev", [15, 13, 17, 14])
    pipeline.expect_failure()
    # WHEN the gate runs
    evaluate_model.handler(event(), None)
    # THEN it fails naming the numbers, and still records and announces the evaluation
    message = (
        "Gate failed: MSE 25.0000 exceeds the threshold 4.6; "
        "no prod endpoint demo-prod: comparison with prod skipped"
    )
    assert pipeline.message == message
    evaluation = cloud.read_artifact(EVALUATION, "evaluation.json")
    assert (evaluation["passed"], evaluation["reason"]) == (False, message)
    assert notification(cloud, topic)["Subject"] == "demo model evaluation FAILED"


def test_a_model_worse_than_prod_fails_the_gate(evaluate_model, cloud, pipeline, stub):
    # GIVEN prod in service scoring MSE 1.0 (one error of 2) and dev scoring 1.25
    expect_prod(stub(evaluate_model.SAGEMAKER), "InService")
    runtime = stub(evaluate_model.RUNTIME)
    expect_invoke(runtime, "demo-dev", DEV_PREDICTIONS)
    expect_invoke(runtime, "demo-prod", [10, 8, 10, 9])
    pipeline.expect_failure()
    # WHEN the gate runs
    evaluate_model.handler(event(), None)
    # THEN it fails naming both numbers and the limit
    assert pipeline.message == (
        "Gate failed: MSE 1.2500 is worse than prod's 1.0000 by more than 5% (limit 1.0500); "
        "prod endpoint demo-prod has MSE 1.0000 (limit 1.0500)"
    )
    assert cloud.read_artifact(EVALUATION, "evaluation.json")["prod_mse"] == 1.0


def test_a_model_within_tolerance_of_prod_passes(evaluate_model, pipeline, stub):
    # GIVEN prod scoring 1.2 and dev 1.25: within 5%
    expect_prod(stub(evaluate_model.SAGEMAKER), "InService")
    runtime = stub(evaluate_model.RUNTIME)
    expect_invoke(runtime, "demo-dev", DEV_PREDICTIONS)
    expect_invoke(runtime, "demo-prod", [10.8, 8, 10, 9.4])  # errors² 0.64 + 4 + 0.16
    pipeline.expect_success()
    # WHEN the gate runs THEN it passes, showing prod's numbers
    evaluate_model.handler(event(), None)
    assert pipeline.summary_text == (
        "Gate passed: MSE 1.2500 within the threshold 4.6; "
        "prod endpoint demo-prod has MSE 1.2000 (limit 1.2600)"
    )


@pytest.mark.parametrize("status", ["Updating", "Creating", "Failed"])
def test_a_prod_endpoint_not_in_service_is_not_compared(evaluate_model, pipeline, stub, status):
    # GIVEN prod exists but is not InService
    expect_prod(stub(evaluate_model.SAGEMAKER), status)
    expect_invoke(stub(evaluate_model.RUNTIME), "demo-dev", DEV_PREDICTIONS)
    pipeline.expect_success()
    # WHEN the gate runs THEN the comparison is skipped and says why
    evaluate_model.handler(event(), None)
    assert pipeline.summary_text.endswith(
        f"prod endpoint demo-prod is {status}: comparison with prod skipped"
    )


def test_a_prod_endpoint_that_cannot_answer_is_not_compared(evaluate_model, pipeline, stub):
    # GIVEN prod in service but its model erroring
    expect_prod(stub(evaluate_model.SAGEMAKER), "InService")
    runtime = stub(evaluate_model.RUNTIME)
    expect_invoke(runtime, "demo-dev", DEV_PREDICTIONS)
    runtime.add_client_error(
        "invoke_endpoint", "ModelError", "Received server error (500) from primary", 424
    )
    pipeline.expect_success()
    # WHEN the gate runs THEN dev is judged on the threshold alone, and the summary says why
    evaluate_model.handler(event(), None)
    assert "prod endpoint demo-prod could not be scored" in pipeline.summary_text
    assert "ModelError" in pipeline.summary_text


def test_large_test_sets_go_in_batches_under_the_payload_limit(
    evaluate_model, pipeline, stub, monkeypatch
):
    # GIVEN a payload limit that fits the header and two records
    header, *rows = REQUEST_CSV.splitlines(keepends=True)
    monkeypatch.setattr(evaluate_model, "MAX_PAYLOAD_BYTES", len(header) + 30)
    runtime = stub(evaluate_model.RUNTIME)
    expect_invoke(runtime, "demo-dev", DEV_PREDICTIONS[:2], header + "".join(rows[:2]))
    expect_invoke(runtime, "demo-dev", DEV_PREDICTIONS[2:], header + "".join(rows[2:]))
    pipeline.expect_success()
    # WHEN the gate runs THEN two requests, each with the header, score all four records
    evaluate_model.handler(event(), None)
    assert pipeline.summary_text.startswith("Gate passed: MSE 1.2500")


def test_a_record_larger_than_a_request_fails(evaluate_model):
    # GIVEN a record that alone exceeds the limit WHEN batched THEN the job fails saying so
    with pytest.raises(evaluate_model.JobFailed, match="a test record of 11 bytes does not fit"):
        load_module("held_out").batches("a,b\n", ["1234567890\n"], max_bytes=12)


@pytest.mark.parametrize(
    ("predictions", "message"),
    [
        ([1, 2], "demo-dev returned 2 predictions for 4 records"),
        ({"a": 1}, "demo-dev returned no list of predictions for 4 records"),
        (["a", "b", "c", "d"], "demo-dev returned non-numeric predictions"),
    ],
)
def test_an_unusable_answer_fails(evaluate_model, pipeline, stub, predictions, message):
    # GIVEN the dev endpoint answering the wrong number or kind of predictions
    expect_invoke(stub(evaluate_model.RUNTIME), "demo-dev", predictions)
    pipeline.expect_failure()
    # WHEN the gate runs THEN it fails saying what was wrong
    evaluate_model.handler(event(), None)
    assert pipeline.message.startswith(message)


def test_a_dev_model_error_fails_with_its_message(evaluate_model, pipeline, stub):
    # GIVEN the dev model rejecting the CSV
    stub(evaluate_model.RUNTIME).add_client_error(
        "invoke_endpoint",
        "ModelError",
        'Received client error (400) from primary with message "missing column whole_weight"',
        424,
    )
    pipeline.expect_failure()
    # WHEN the gate runs THEN the failure carries the model's words
    evaluate_model.handler(event(), None)
    assert "ModelError" in pipeline.message
    assert "missing column whole_weight" in pipeline.message


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("sex,length\nM,0.4\n", "the test set has no column 'rings' (it has: sex, length)"),
        ("sex,rings\n", "the test set has no records"),
        ("sex,rings\nM,ten\n", "test set line 2: 'ten' is not a number"),
        ("sex,rings\nM\n", "test set line 2 has 1 fields, not 2"),
        ('sex,rings\n"two\nlines",1\n\nM\n', "test set line 5 has 1 fields, not 2"),
        ("", "the test set has no column 'rings' (it has: no header)"),
    ],
)
def test_a_bad_test_set_fails(evaluate_model, cloud, pipeline, csv_text, message):
    # GIVEN a test CSV the gate cannot use
    cloud.s3.put_object(Bucket="demo-data", Key="test/test.csv", Body=csv_text.encode())
    pipeline.expect_failure()
    # WHEN the gate runs THEN it says what is wrong with it
    evaluate_model.handler(event(), None)
    assert pipeline.message == message


def test_the_gate_scores_the_column_the_model_was_trained_to_predict(
    evaluate_model, cloud, pipeline, stub
):
    # GIVEN a model trained with target=age, and a test set whose "rings" is not its target
    create_training_job_in_moto(cloud.sagemaker, AGE_JOB, {"target": "age"})
    deployed_from(cloud, AGE_JOB)
    test_csv = "sex,rings,age\nM,1,10\nF,1,8\nI,1,12\nM,1,9\n"
    cloud.s3.put_object(Bucket="demo-data", Key="test/test.csv", Body=test_csv.encode())
    without_age = "sex,rings\nM,1\nF,1\nI,1\nM,1\n"
    expect_invoke(stub(evaluate_model.RUNTIME), "demo-dev", DEV_PREDICTIONS, without_age)
    pipeline.expect_success()
    # WHEN the gate runs THEN it scores "age": the same errors as against rings above
    evaluate_model.handler(event(), None)
    assert pipeline.summary_text.startswith("Gate passed: MSE 1.2500")


def test_a_test_set_without_the_trained_target_fails_naming_it(evaluate_model, cloud, pipeline):
    # GIVEN a model trained with target=age and the abalone test set
    create_training_job_in_moto(cloud.sagemaker, AGE_JOB, {"target": "age"})
    deployed_from(cloud, AGE_JOB)
    pipeline.expect_failure()
    # WHEN the gate runs THEN it fails before any prediction, naming the column
    evaluate_model.handler(event(), None)
    assert pipeline.message == (
        "the test set has no column 'age' (it has: sex, length, diameter, rings)"
    )


def test_a_missing_test_set_fails(evaluate_model, cloud, pipeline):
    # GIVEN no test set uploaded
    cloud.s3.delete_object(Bucket="demo-data", Key="test/test.csv")
    pipeline.expect_failure()
    # WHEN the gate runs THEN S3's refusal is the message
    evaluate_model.handler(event(), None)
    assert "NoSuchKey" in pipeline.message
    assert "GetObject" in pipeline.message


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
@given(
    pairs=st.lists(
        st.tuples(
            st.floats(0, 30, allow_nan=False, allow_infinity=False),
            st.floats(0, 30, allow_nan=False, allow_infinity=False),
        ),
        min_size=2,
        max_size=50,
    )
)
def test_metrics_agree_with_scikit_learn(evaluate_model, pairs):
    # GIVEN any targets and predictions
    actual, predicted = [a for a, _ in pairs], [p for _, p in pairs]
    # WHEN scored in plain Python
    metrics = evaluate_model.regression_metrics(actual, predicted)
    # THEN the numbers are scikit-learn's
    assert metrics["mse"] == pytest.approx(mean_squared_error(actual, predicted), abs=1e-9)
    assert metrics["rmse"] == pytest.approx(math.sqrt(mean_squared_error(actual, predicted)))
    assert metrics["mae"] == pytest.approx(mean_absolute_error(actual, predicted), abs=1e-9)
    assert metrics["r2"] == pytest.approx(r2_score(actual, predicted), rel=1e-6, abs=1e-6)
