"""The CodePipeline job API through real boto3 clients (and raw HTTP for what boto3 won't send)."""

from __future__ import annotations

import io
import textwrap
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from localcloud.codepipeline import CodePipelineService, JobResult, JobStore
from localcloud.core.signing import Credentials
from localcloud.lambda_runtime import LambdaFunction, LambdaRuntime
from tests.client_errors import error_of
from tests.localcloud.codepipeline.support import codepipeline_client
from tests.signing_support import signed_headers

NOT_FOUND = "The job was specified in an invalid format or cannot be found."
INVALID_STATE = "The job state was specified in an invalid format."
UNKNOWN_JOB = "0f0e0d0c-0b0a-4909-8807-060504030201"
DATA = {
    "actionConfiguration": {"configuration": {"FunctionName": "f", "UserParameters": "{}"}},
    "inputArtifacts": [],
    "outputArtifacts": [],
}


CREDENTIALS = Credentials.generate()


@pytest.fixture(scope="module")
def service() -> Iterator[CodePipelineService]:
    """The local CodePipeline on a free loopback port, for clients signed with CREDENTIALS."""
    served = CodePipelineService(CREDENTIALS, port=0)
    served.start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def jobs(service: CodePipelineService) -> JobStore:
    """Its job store, where the runner opens jobs and waits for their results."""
    return service.jobs


@pytest.fixture(scope="module")
def codepipeline(service: CodePipelineService) -> Any:
    """A boto3 client pointed at the service, as the Lambdas' is."""
    return codepipeline_client(service.url, CREDENTIALS)


def test_a_success_with_its_details_is_recorded(jobs: JobStore, codepipeline: Any) -> None:
    job_id = jobs.open_job(DATA)

    codepipeline.put_job_success_result(
        jobId=job_id,
        currentRevision={"revision": "abc1234", "changeIdentifier": "c1"},
        executionDetails={
            "summary": "Training job abalone-1 Completed",
            "externalExecutionId": "x",
        },
        outputVariables={"TrainingJobName": "abalone-1"},
    )

    assert jobs.wait_result(job_id, 1) == JobResult(
        succeeded=True,
        message="Training job abalone-1 Completed",
        output_variables={"TrainingJobName": "abalone-1"},
        external_execution_id="x",
        current_revision={"revision": "abc1234", "changeIdentifier": "c1"},
    )


def test_a_continuation_token_is_recorded(jobs: JobStore, codepipeline: Any) -> None:
    job_id = jobs.open_job(DATA)

    codepipeline.put_job_success_result(
        jobId=job_id,
        continuationToken='{"first_poll": 1700000000}',
        executionDetails={"summary": "InProgress", "percentComplete": 40},
    )

    result = jobs.wait_result(job_id, 1)
    assert result is not None and result.succeeded
    assert result.continuation_token == '{"first_poll": 1700000000}'
    assert result.message == "InProgress"


def test_a_failure_is_recorded(jobs: JobStore, codepipeline: Any) -> None:
    job_id = jobs.open_job(DATA)

    codepipeline.put_job_failure_result(
        jobId=job_id,
        failureDetails={
            "type": "ConfigurationError",
            "message": "UserParameters is not valid JSON",
            "externalExecutionId": "run-1",
        },
    )

    assert jobs.wait_result(job_id, 1) == JobResult(
        succeeded=False,
        message="UserParameters is not valid JSON",
        failure_type="ConfigurationError",
        external_execution_id="run-1",
    )


def test_job_details_are_the_data_the_job_was_opened_with(
    jobs: JobStore, codepipeline: Any
) -> None:
    job_id = jobs.open_job(DATA)

    details = codepipeline.get_job_details(jobId=job_id)["jobDetails"]

    assert details == {"id": job_id, "data": DATA, "accountId": "123456789012"}


def test_an_unknown_job_is_job_not_found(codepipeline: Any) -> None:
    assert error_of(codepipeline.put_job_success_result, jobId=UNKNOWN_JOB) == (
        "JobNotFoundException",
        NOT_FOUND,
        400,
    )
    assert error_of(
        codepipeline.put_job_failure_result,
        jobId=UNKNOWN_JOB,
        failureDetails={"type": "JobFailed", "message": "m"},
    ) == ("JobNotFoundException", NOT_FOUND, 400)
    assert error_of(codepipeline.get_job_details, jobId=UNKNOWN_JOB)[0] == "JobNotFoundException"


def test_a_second_result_is_an_invalid_job_state(jobs: JobStore, codepipeline: Any) -> None:
    """GIVEN a job that reported success WHEN it reports again (either way) THEN
    InvalidJobStateException, and the first result stands."""
    job_id = jobs.open_job(DATA)
    codepipeline.put_job_success_result(jobId=job_id, executionDetails={"summary": "first"})

    again = error_of(codepipeline.put_job_success_result, jobId=job_id)
    failure = error_of(
        codepipeline.put_job_failure_result,
        jobId=job_id,
        failureDetails={"type": "JobFailed", "message": "late"},
    )

    assert again == failure == ("InvalidJobStateException", INVALID_STATE, 400)
    result = jobs.wait_result(job_id, 0)
    assert result is not None and result.message == "first"


@pytest.mark.parametrize(
    ("call", "parameters", "message"),
    [
        (
            "put_job_success_result",
            {"jobId": "not-a-job-id"},
            "1 validation error detected: Value 'not-a-job-id' at 'jobId' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        ),
        (
            "put_job_failure_result",
            {"jobId": UNKNOWN_JOB, "failureDetails": {"type": "Oops", "message": "m" * 5001}},
            "2 validation errors detected: Value 'Oops' at 'failureDetails.type' failed to "
            "satisfy constraint: Member must satisfy enum value set: [JobFailed, "
            "ConfigurationError, PermissionError, RevisionOutOfSync, RevisionUnavailable, "
            "SystemUnavailable]; Value '" + "m" * 5001 + "' at 'failureDetails.message' failed "
            "to satisfy constraint: Member must have length less than or equal to 5000",
        ),
        (
            "put_job_success_result",
            {"jobId": UNKNOWN_JOB, "executionDetails": {"percentComplete": 101}},
            "1 validation error detected: Value '101' at 'executionDetails.percentComplete' "
            "failed to satisfy constraint: Member must have value less than or equal to 100",
        ),
        (
            "put_job_success_result",
            {"jobId": UNKNOWN_JOB, "outputVariables": {"no spaces": "v"}},
            "1 validation error detected: Value '{\"no spaces\": \"v\"}' at 'outputVariables' "
            "failed to satisfy constraint: Map keys must satisfy constraint: [Member must "
            "satisfy regular expression pattern: [A-Za-z0-9@\\-_]+]",
        ),
    ],
    ids=["job-id-pattern", "failure-type-and-length", "percent", "variable-name"],
)
def test_bad_input_is_a_validation_exception(
    codepipeline: Any, call: str, parameters: dict[str, Any], message: str
) -> None:
    assert error_of(getattr(codepipeline, call), **parameters) == (
        "ValidationException",
        message,
        400,
    )


def test_output_variables_and_a_continuation_token_do_not_mix(
    jobs: JobStore, codepipeline: Any
) -> None:
    job_id = jobs.open_job(DATA)

    code, message, _ = error_of(
        codepipeline.put_job_success_result,
        jobId=job_id,
        continuationToken="t",
        outputVariables={"A": "b"},
    )

    assert code == "ValidationException"
    assert "continuationToken" in message
    assert jobs.wait_result(job_id, 0) is None


def test_an_action_the_service_does_not_serve_is_an_unknown_operation(codepipeline: Any) -> None:
    code, message, status = error_of(codepipeline.list_webhooks)

    assert (code, status) == ("UnknownOperationException", 400)
    assert "ListWebhooks" in message


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "SerializationException"),
        (b'["a list"]', "SerializationException"),
        (b'{"jobId": 7}', "SerializationException"),
    ],
)
def test_a_body_that_is_not_the_right_json_is_a_serialization_exception(
    service: CodePipelineService, body: bytes, code: str
) -> None:
    headers = {
        "X-Amz-Target": "CodePipeline_20150709.PutJobSuccessResult",
        "Content-Type": "application/x-amz-json-1.1",
    }
    response = requests.post(
        service.url,
        data=body,
        headers=signed_headers(CREDENTIALS, "codepipeline", service.url, body, headers),
        timeout=5,
    )

    assert response.status_code == 400
    assert response.json()["__type"] == code


def test_wait_result_returns_none_when_nothing_is_reported(jobs: JobStore) -> None:
    job_id = jobs.open_job(DATA)
    started = time.monotonic()

    assert jobs.wait_result(job_id, 0.2) is None
    assert time.monotonic() - started >= 0.2


def test_wait_result_wakes_up_when_the_result_arrives(jobs: JobStore, codepipeline: Any) -> None:
    job_id = jobs.open_job(DATA)
    reporter = threading.Timer(0.1, lambda: codepipeline.put_job_success_result(jobId=job_id))
    reporter.start()
    started = time.monotonic()

    result = jobs.wait_result(job_id, 10)

    assert result is not None and result.succeeded
    assert time.monotonic() - started < 5
    reporter.join()


def test_many_jobs_in_parallel_each_get_their_own_result(jobs: JobStore, codepipeline: Any) -> None:
    job_ids = [jobs.open_job({"n": n}) for n in range(20)]

    def report(n: int) -> None:
        codepipeline.put_job_success_result(
            jobId=job_ids[n], executionDetails={"summary": f"job {n}"}
        )

    threads = [threading.Thread(target=report, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    results = [jobs.wait_result(job_id, 10) for job_id in job_ids]
    for thread in threads:
        thread.join()

    assert [r.message if r else None for r in results] == [f"job {n}" for n in range(20)]


def test_a_lambda_reports_through_the_job_api(
    service: CodePipelineService, jobs: JobStore, tmp_path: Path
) -> None:
    """GIVEN the runtime's ambient environment names the job API WHEN a pipeline Lambda runs
    THEN its boto3 client reaches the job API and the runner sees its result."""
    source = textwrap.dedent(
        """
        import boto3

        codepipeline = boto3.client("codepipeline")

        def handler(event, context):
            job = event["CodePipeline.job"]
            codepipeline.put_job_success_result(
                jobId=job["id"], executionDetails={"summary": "done by " + context.function_name}
            )
        """
    )
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", source)
    runtime = LambdaRuntime(
        tmp_path,
        {
            "AWS_ENDPOINT_URL_CODEPIPELINE": service.url,
            **CREDENTIALS.environment(),
            "AWS_REGION": "us-east-1",
        },
    )
    try:
        runtime.register(LambdaFunction("reporter", package.getvalue(), "app.handler", timeout=10))
        job_id = jobs.open_job(DATA)

        outcome = runtime.invoke("reporter", {"CodePipeline.job": {"id": job_id, "data": DATA}})
        result = jobs.wait_result(job_id, 5)
    finally:
        runtime.shutdown()

    assert outcome.ok, outcome.error
    assert result is not None and result.succeeded and result.message == "done by reporter"


def test_a_taken_port_is_named(service: CodePipelineService) -> None:
    with pytest.raises(OSError, match=f"port {service.port} on 127.0.0.1 is already in use"):
        CodePipelineService(CREDENTIALS, port=service.port).start()
