"""The shared CodePipeline job protocol and JSON logging, on the captured job event."""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from tests.lambdas.conftest import (
    ARTIFACT_BUCKET,
    ARTIFACT_CREDENTIALS,
    JOB_ID,
    Cloud,
    JobResults,
    assert_no_secrets,
    job_event,
    load_event,
)

CONTEXT = SimpleNamespace(aws_request_id="req-1234")


def log_lines(output: str) -> list[dict]:
    """Every stdout line parsed as JSON (each must be one)."""
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_the_captured_event_is_viewed_without_its_credentials(codepipeline_job: ModuleType):
    # GIVEN the event exactly as AWS documents it
    event = load_event("codepipeline_job.json")
    # WHEN it is wrapped and printed
    job = codepipeline_job.CodePipelineJob.from_event(event)
    text = repr(job) + str(job)
    # THEN the ids, parameters and artifacts are there, the credentials are not
    assert job.id == JOB_ID
    assert job.user_parameters_text == "some-input-such-as-a-URL"
    assert job.continuation_token == "A continuation token if continuing job"
    assert job.input_artifact.name == "ArtifactName"
    assert job.output_artifact.url.startswith("s3://codepipeline-us-east-2-1234567890/")
    for secret in ARTIFACT_CREDENTIALS.values():
        assert str(secret) not in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("   ", {}),
        ('{"stage": "Training"}', {"stage": "Training"}),
    ],
)
def test_user_parameters_decode_to_an_object(codepipeline_job, text, expected):
    # GIVEN UserParameters text WHEN decoded THEN a dict comes back
    job = codepipeline_job.CodePipelineJob.from_event(job_event(text))
    assert job.user_parameters == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "UserParameters is not valid JSON: Expecting property name"),
        ('["a"]', "UserParameters must be a JSON object, got list"),
    ],
)
def test_bad_user_parameters_are_a_configuration_error(codepipeline_job, text, message):
    # GIVEN malformed UserParameters
    job = codepipeline_job.CodePipelineJob.from_event(job_event(text))
    # WHEN decoded THEN a ConfigurationError names the problem
    with pytest.raises(codepipeline_job.ConfigurationError, match=message.replace("[", r"\[")):
        _ = job.user_parameters


def test_missing_event_fields_without_user_parameters(codepipeline_job):
    # GIVEN an action with no UserParameters at all
    job = codepipeline_job.CodePipelineJob.from_event(job_event(None))
    # THEN it reads as an empty object
    assert job.user_parameters == {}


def test_two_input_artifacts_are_a_configuration_error(codepipeline_job):
    # GIVEN an action wired with two input artifacts
    event = job_event(inputs={"A": "a.zip", "B": "b.zip"})
    job = codepipeline_job.CodePipelineJob.from_event(event)
    # WHEN the function asks for its one input THEN it is told how many there are
    with pytest.raises(codepipeline_job.ConfigurationError, match="one input artifact, has 2"):
        _ = job.input_artifact


def test_artifacts_round_trip_through_s3(codepipeline_job, cloud: Cloud):
    # GIVEN a job whose output artifact is another job's input
    job = codepipeline_job.CodePipelineJob.from_event(job_event(outputs={"Out": "k/out.zip"}))
    # WHEN a document is written and read back
    job.write_json(job.output_artifact, "doc.json", {"a": 1})
    read = job.read_json(codepipeline_job.Artifact("Out", ARTIFACT_BUCKET, "k/out.zip"), "doc.json")
    # THEN it is the same, in a one-file zip
    assert read == {"a": 1}
    assert cloud.read_artifact("k/out.zip", "doc.json") == {"a": 1}


def test_output_artifacts_use_the_pipeline_kms_key(codepipeline_job, cloud: Cloud):
    # GIVEN an artifact store encrypted with a KMS key (the event then names it)
    event = job_event(outputs={"Out": "k/out.zip"})
    key_arn = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    event["CodePipeline.job"]["data"]["encryptionKey"] = {"id": key_arn, "type": "KMS"}
    job = codepipeline_job.CodePipelineJob.from_event(event)
    # WHEN the output is written
    job.write_json(job.output_artifact, "doc.json", {})
    # THEN S3 stored it under that key, and the view does not print the key
    head = cloud.s3.head_object(Bucket=ARTIFACT_BUCKET, Key="k/out.zip")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert key_arn not in repr(job)


@pytest.mark.parametrize(
    ("arrange", "message"),
    [
        (lambda cloud: None, "cannot read input artifact In (s3://"),
        (
            lambda cloud: cloud.s3.put_object(Bucket=ARTIFACT_BUCKET, Key="in.zip", Body=b"no"),
            "input artifact In is not a zip",
        ),
        (
            lambda cloud: cloud.put_artifact("in.zip", "other.json", {}),
            "input artifact In has no doc.json (it holds: other.json)",
        ),
        (
            lambda cloud: cloud.put_artifact("in.zip", "doc.json", ["a"]),
            "doc.json in In is not a JSON object",
        ),
        (
            lambda cloud: cloud.put_artifact("in.zip", "doc.json", {"Name": ""}),
            "doc.json in In has no Name, Other",
        ),
    ],
)
def test_unreadable_input_artifacts_fail_with_a_message(codepipeline_job, cloud, arrange, message):
    # GIVEN an input artifact that is missing, not a zip, or lacks what the function needs
    arrange(cloud)
    job = codepipeline_job.CodePipelineJob.from_event(job_event(inputs={"In": "in.zip"}))
    # WHEN it is read THEN the job fails saying which artifact and what is wrong
    with pytest.raises(codepipeline_job.JobFailed) as failure:
        job.read_json(job.input_artifact, "doc.json", "Name", "Other")
    assert message in str(failure.value)


def test_done_reports_one_success(codepipeline_job, pipeline: JobResults, capsys):
    # GIVEN an action that finishes
    pipeline.expect_success()
    # WHEN run
    codepipeline_job.run_job(job_event(), CONTEXT, lambda job: codepipeline_job.Done("all good"))
    # THEN one success with the summary, and JSON logs carrying the job and request ids
    assert pipeline.summary_text == "all good"
    lines = log_lines(capsys.readouterr().out)
    assert lines and all(line["job_id"] == JOB_ID for line in lines)
    assert all(line["request_id"] == "req-1234" for line in lines)


def test_pending_reports_one_continuation(codepipeline_job, pipeline: JobResults):
    # GIVEN an action still in progress
    pipeline.expect_continuation()
    # WHEN run
    codepipeline_job.run_job(
        job_event(), CONTEXT, lambda job: codepipeline_job.Pending("still going", '{"n": 1}')
    )
    # THEN one success carrying the continuation token
    assert pipeline.token.value == '{"n": 1}'
    assert pipeline.summary_text == "still going"


def test_job_failed_reports_its_message(codepipeline_job, pipeline: JobResults):
    # GIVEN an action that fails knowingly
    pipeline.expect_failure()

    def action(job):
        raise codepipeline_job.JobFailed("the model is not good enough")

    # WHEN run THEN the failure carries its message
    codepipeline_job.run_job(job_event(), CONTEXT, action)
    assert pipeline.message == "the model is not good enough"


def test_a_client_error_reports_the_call_and_the_reason(codepipeline_job, pipeline: JobResults):
    # GIVEN an action whose AWS call is refused
    pipeline.expect_failure()

    def action(job):
        raise ClientError(
            {"Error": {"Code": "ResourceLimitExceeded", "Message": "too many jobs"}},
            "CreateTrainingJob",
        )

    # WHEN run THEN the message names the operation, the code and SageMaker's words
    codepipeline_job.run_job(job_event(), CONTEXT, action)
    assert "ResourceLimitExceeded" in pipeline.message
    assert "CreateTrainingJob" in pipeline.message
    assert "too many jobs" in pipeline.message


def test_an_unexpected_exception_is_one_readable_failure(
    codepipeline_job, pipeline: JobResults, capsys
):
    # GIVEN an action with a bug
    pipeline.expect_failure()

    def action(job):
        return {}["missing"]

    # WHEN run
    codepipeline_job.run_job(job_event(), CONTEXT, action)
    # THEN the pipeline reads a short message pointing at the log, which has the traceback
    assert pipeline.message.startswith("unexpected KeyError: 'missing' (request req-1234;")
    assert "Traceback" not in pipeline.message
    errors = [line for line in log_lines(capsys.readouterr().out) if line["level"] == "ERROR"]
    assert "Traceback" in errors[0]["exception"]


def test_long_failure_messages_are_clipped_to_the_api_limit(codepipeline_job, pipeline):
    # GIVEN a failure with a huge message (Stubber rejects > 5000 characters)
    pipeline.expect_failure()

    def action(job):
        raise codepipeline_job.JobFailed("x" * 9000)

    # WHEN run THEN the message fits
    codepipeline_job.run_job(job_event(), CONTEXT, action)
    assert len(pipeline.message) == 5000
    assert pipeline.message.endswith("...")


def test_the_job_log_never_holds_the_credentials(codepipeline_job, pipeline, cloud, capsys):
    # GIVEN a job that reads and writes artifacts, at DEBUG
    cloud.put_artifact("in.zip", "doc.json", {"a": 1})
    pipeline.expect_success()

    def action(job):
        job.write_json(
            job.output_artifact, "doc.json", job.read_json(job.input_artifact, "doc.json")
        )
        return codepipeline_job.Done("copied")

    # WHEN run
    codepipeline_job.run_job(job_event(inputs={"In": "in.zip"}), CONTEXT, action)
    # THEN neither stdout nor any S3 object holds the secret key or the session token
    assert_no_secrets(cloud, capsys.readouterr().out)


@dataclass(frozen=True)
class Sample:
    """Settings shaped like the functions' own."""

    project_name: str
    keep_last: int
    ratio: float = 0.5


def test_settings_come_from_the_environment(codepipeline_job, monkeypatch):
    # GIVEN the variables set
    monkeypatch.setenv("PROJECT_NAME", "demo")
    monkeypatch.setenv("KEEP_LAST", "3")
    # WHEN read THEN converted by field type, defaults where unset
    assert codepipeline_job.settings_from_env(Sample) == Sample("demo", 3, 0.5)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"KEEP_LAST": "3"}, "environment variable PROJECT_NAME is not set"),
        ({"PROJECT_NAME": "d", "KEEP_LAST": "three"}, "KEEP_LAST='three' is not int"),
    ],
)
def test_missing_or_bad_settings_name_the_variable(
    codepipeline_job, monkeypatch, variables, message
):
    # GIVEN a variable missing or malformed
    monkeypatch.delenv("PROJECT_NAME", raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    # WHEN read THEN the configuration error names it
    with pytest.raises(codepipeline_job.ConfigurationError, match=message):
        codepipeline_job.settings_from_env(Sample)


def test_sagemaker_names_are_checked(codepipeline_job):
    # GIVEN name parts WHEN joined THEN valid names pass and invalid ones say how to fix them
    assert codepipeline_job.sagemaker_name("demo", "dev") == "demo-dev"
    with pytest.raises(codepipeline_job.ConfigurationError, match="check PROJECT_NAME"):
        codepipeline_job.sagemaker_name("p" * 60, "prod")
    with pytest.raises(codepipeline_job.ConfigurationError, match="not a valid SageMaker name"):
        codepipeline_job.sagemaker_name("demo_project", "dev")
