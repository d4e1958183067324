"""Lambda's Invoke and the functions' CloudWatch Logs, through real boto3 clients (and the CLI).

One edge serves both, as in the local cloud: Invoke from the local runtime, CloudWatch Logs
(where every execution environment writes its stream) and the rest of Lambda from moto.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from localcloud.constants import ACCOUNT_ID, REGION
from localcloud.core.signing import Credentials
from localcloud.edge import Edge
from localcloud.lambda_runtime import LambdaFunction, LambdaRuntime
from localcloud.lambda_runtime.server import INVOKE_PATH, LambdaFrontEnd
from tests.client_errors import error_of
from tests.localcloud.lambda_runtime.conftest import build_zip
from tests.readme_commands import AWS_CLI

CREDENTIALS = Credentials.generate()
ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function"
STREAM_NAME = re.compile(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}")
HANDLER = """
    import json
    import logging
    import os
    import time

    logger = logging.getLogger()
    logger.setLevel(logging.INFO)
    print("module loaded")
    kept = []

    def handler(event, context):
        print("got", json.dumps(event, sort_keys=True))
        print()  # CloudWatch Logs holds no empty event: this one must not cost the others
        logger.info("through logging")
        for number in range(event.get("lines", 0)):
            print(f"{number:03d}", "y" * 100_000)
        time.sleep(event.get("sleep", 0))
        if "write" in event:
            with open(event["write"], "w") as marker:
                marker.write(context.aws_request_id)
        if "shout" in event:
            print("x" * event["shout"])
        if "allocate_mb" in event:
            kept.append(bytearray(event["allocate_mb"] * 1024 * 1024))
        if event.get("fail"):
            raise ValueError("the model bucket is empty")
        return {"echo": event, "request_id": context.aws_request_id}
"""


def _client(service: str, url: str, credentials: Credentials = CREDENTIALS) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        config=Config(retries={"max_attempts": 1}, read_timeout=30),
    )


@pytest.fixture(scope="module")
def edge() -> Iterator[Edge]:
    """The edge, with moto behind it; Invoke is mounted once the runtime exists."""
    edge = Edge(CREDENTIALS)
    edge.moto.reset()
    edge.start()
    yield edge
    edge.stop()


@pytest.fixture(scope="module")
def logs(edge: Edge) -> Any:
    return _client("logs", edge.url)


@pytest.fixture(scope="module")
def runtime(
    tmp_path_factory: pytest.TempPathFactory, edge: Edge, logs: Any
) -> Iterator[LambdaRuntime]:
    """A runtime with two functions, logging to moto's CloudWatch Logs, serving Invoke."""
    runtime = LambdaRuntime(tmp_path_factory.mktemp("state"), {"AWS_REGION": REGION}, logs=logs)
    code = build_zip({"app.py": HANDLER})
    runtime.register(LambdaFunction("echo", code, "app.handler", memory=256, timeout=10))
    runtime.register(LambdaFunction("talker", code, "app.handler", timeout=10))
    edge.mount("lambda", LambdaFrontEnd(runtime, CREDENTIALS).handle, path=INVOKE_PATH.pattern)
    yield runtime
    runtime.shutdown()


@pytest.fixture(scope="module")
def lambda_client(edge: Edge, runtime: LambdaRuntime) -> Any:
    return _client("lambda", edge.url)


def events_of(logs: Any, function: str, pattern: str = "") -> list[dict[str, Any]]:
    """Every event of the function's group (its streams' writers flush twice a second)."""
    found: list[dict[str, Any]] = []
    token: dict[str, str] = {}
    while True:
        page = logs.filter_log_events(
            logGroupName=f"/aws/lambda/{function}", filterPattern=pattern, **token
        )
        found += page["events"]
        if "nextToken" not in page:
            return found
        token = {"nextToken": page["nextToken"]}


def wait_for(predicate: Callable[[], Any], seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := predicate()):
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)
    return value


@pytest.mark.parametrize(
    "function_name",
    ["echo", "echo:$LATEST", f"{ACCOUNT_ID}:function:echo", f"{ARN}:echo", f"{ARN}:echo:$LATEST"],
)
def test_request_response_returns_the_handlers_payload(
    lambda_client: Any, function_name: str
) -> None:
    """GIVEN a function WHEN invoked by name, partial ARN or ARN THEN its payload comes back."""
    response = lambda_client.invoke(FunctionName=function_name, Payload=b'{"n": [1, 2]}')

    payload = json.loads(response["Payload"].read())
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response and "LogResult" not in response
    assert payload["echo"] == {"n": [1, 2]}
    assert payload["request_id"] == response["ResponseMetadata"]["RequestId"]


def test_no_payload_is_an_empty_event_and_a_qualifier_of_latest_is_accepted(
    lambda_client: Any,
) -> None:
    response = lambda_client.invoke(FunctionName="echo", Qualifier="$LATEST")

    assert json.loads(response["Payload"].read())["echo"] == {}


def test_a_handler_exception_is_a_function_error_with_its_log_tail(lambda_client: Any) -> None:
    """GIVEN a handler that raises WHEN invoked with LogType Tail THEN 200, FunctionError
    Unhandled, Lambda's error payload, and the invocation's log in LogResult."""
    response = lambda_client.invoke(FunctionName="echo", Payload=b'{"fail": true}', LogType="Tail")

    request_id = response["ResponseMetadata"]["RequestId"]
    error = json.loads(response["Payload"].read())
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert error["errorMessage"] == "the model bucket is empty"
    assert error["errorType"] == "ValueError"
    assert error["requestId"] == request_id
    assert error["stackTrace"][-1].endswith('    raise ValueError("the model bucket is empty")\n')
    log = base64.b64decode(response["LogResult"]).decode()
    lines = log.splitlines()
    start = lines.index(f"START RequestId: {request_id} Version: $LATEST")
    assert lines[start + 1] == 'got {"fail": true}'
    assert "[ERROR] ValueError: the model bucket is empty\nTraceback" in log
    assert f"\nEND RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: " in log
    assert log.endswith(" MB\n")


def test_the_log_tail_is_the_last_4_kb(lambda_client: Any) -> None:
    response = lambda_client.invoke(
        FunctionName="echo", Payload=b'{"shout": 10000}', LogType="Tail"
    )

    log = base64.b64decode(response["LogResult"])
    assert len(log) == 4096
    assert log.startswith(b"xxx")
    assert b"\nEND RequestId: " in log and b"\nREPORT RequestId: " in log


def test_max_memory_used_is_the_execution_environments_own_peak(lambda_client: Any) -> None:
    def max_memory_used(event: bytes) -> int:
        response = lambda_client.invoke(FunctionName="echo", Payload=event, LogType="Tail")
        log = base64.b64decode(response["LogResult"]).decode()
        return int(re.findall(r"\tMax Memory Used: (\d+) MB", log)[-1])

    before = max_memory_used(b"{}")
    after = max_memory_used(b'{"allocate_mb": 64}')

    assert before < 100  # a worker's own, not the test process's it was started from
    assert after >= before + 60


def test_event_runs_later_and_answers_202_at_once(lambda_client: Any, tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    started = time.monotonic()
    response = lambda_client.invoke(
        FunctionName="echo",
        InvocationType="Event",
        Payload=json.dumps({"sleep": 0.5, "write": str(marker)}).encode(),
    )

    assert time.monotonic() - started < 0.5
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    assert wait_for(marker.exists)
    assert wait_for(marker.read_text) == response["ResponseMetadata"]["RequestId"]


def test_dry_run_checks_the_function_without_running_it(
    lambda_client: Any, logs: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"

    response = lambda_client.invoke(
        FunctionName="echo", InvocationType="DryRun", Payload=json.dumps({"write": str(marker)})
    )

    assert response["StatusCode"] == 204
    assert response["Payload"].read() == b""
    time.sleep(0.3)
    assert not marker.exists()
    assert error_of(lambda_client.invoke, FunctionName="absent", InvocationType="DryRun") == (
        "ResourceNotFoundException",
        f"Function not found: {ARN}:absent",
        404,
    )


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        (
            {"FunctionName": "absent"},
            ("ResourceNotFoundException", f"Function not found: {ARN}:absent", 404),
        ),
        (
            {"FunctionName": "echo", "Qualifier": "7"},
            ("ResourceNotFoundException", f"Function not found: {ARN}:echo:7", 404),
        ),
        (
            {"FunctionName": "arn:aws:lambda:eu-west-1:111122223333:function:echo"},
            (
                "ResourceNotFoundException",
                "Function not found: arn:aws:lambda:eu-west-1:111122223333:function:echo",
                404,
            ),
        ),
        (
            {"FunctionName": "echo:live", "Qualifier": "$LATEST"},
            (
                "InvalidParameterValueException",
                "The derived qualifier from the function name does not match the specified "
                "qualifier.",
                400,
            ),
        ),
        (
            {"FunctionName": "echo", "Payload": b"hello"},
            (
                "InvalidRequestContentException",
                "Could not parse request body into json: Could not parse payload into json: "
                "Expecting value: line 1 column 1 (char 0)",
                400,
            ),
        ),
        (
            {"FunctionName": "echo", "Payload": b'{"x": NaN}'},
            (
                "InvalidRequestContentException",
                "Could not parse request body into json: Could not parse payload into json: "
                "NaN is not JSON",
                400,
            ),
        ),
        (
            {"FunctionName": "echo", "Payload": b"[" + b" " * (6 * 1024 * 1024) + b"]"},
            (
                "RequestEntityTooLargeException",
                "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
                413,
            ),
        ),
        (
            {
                "FunctionName": "echo",
                "InvocationType": "Event",
                "Payload": b"[" + b" " * (1024 * 1024) + b"]",
            },
            (
                "RequestEntityTooLargeException",
                "1048578 byte payload is too large for the Event invocation type "
                "(limit 1048576 bytes)",
                413,
            ),
        ),
        (
            {"FunctionName": "echo", "InvocationType": "Later"},
            (
                "ValidationException",
                "1 validation error detected: Value 'Later' at 'invocationType' failed to "
                "satisfy constraint: Member must satisfy enum value set: "
                "[Event, RequestResponse, DryRun]",
                400,
            ),
        ),
        (
            {"FunctionName": "echo", "LogType": "Head"},
            (
                "ValidationException",
                "1 validation error detected: Value 'Head' at 'logType' failed to satisfy "
                "constraint: Member must satisfy enum value set: [None, Tail]",
                400,
            ),
        ),
        (
            {"FunctionName": "echo", "ClientContext": base64.b64encode(b"{}").decode()},
            (
                "InvalidParameterValueException",
                "The local Lambda does not support ClientContext on Invoke",
                400,
            ),
        ),
    ],
    ids=[
        "unknown",
        "unknown-qualifier",
        "other-account",
        "qualifier-mismatch",
        "not-json",
        "nan",
        "over-6-mb",
        "event-over-1-mb",
        "invocation-type",
        "log-type",
        "client-context",
    ],
)
def test_bad_requests_get_lambdas_codes_and_words(
    lambda_client: Any, parameters: dict[str, Any], expected: tuple[str, str, int]
) -> None:
    assert error_of(lambda_client.invoke, **parameters) == expected


def test_only_the_clouds_own_credentials_are_accepted(edge: Edge, runtime: LambdaRuntime) -> None:
    stranger = _client("lambda", edge.url, Credentials.generate())

    code, message, status = error_of(stranger.invoke, FunctionName="echo")

    assert (code, status) == ("UnrecognizedClientException", 403)
    assert message == "The security token included in the request is invalid."


def test_output_and_lambdas_lines_reach_cloudwatch_logs(lambda_client: Any, logs: Any) -> None:
    """GIVEN a cold function WHEN invoked twice THEN its group holds one stream named as
    Lambda's, with INIT_START, the init and handler output, START/END/REPORT per invocation."""
    first = lambda_client.invoke(FunctionName="talker", Payload=b'{"n": 1}')
    second = lambda_client.invoke(FunctionName="talker", Payload=b'{"n": 2}')
    ids = [r["ResponseMetadata"]["RequestId"] for r in (first, second)]

    events = wait_for(lambda: len(found := events_of(logs, "talker")) >= 12 and found)

    assert {event["logStreamName"] for event in events} == {events[0]["logStreamName"]}
    assert STREAM_NAME.fullmatch(events[0]["logStreamName"])
    messages = [event["message"] for event in events]
    assert messages[0].startswith("INIT_START Runtime Version: python:3.")
    assert messages[1] == "module loaded"
    assert messages[2] == f"START RequestId: {ids[0]} Version: $LATEST"
    assert messages[3] == 'got {"n": 1}'
    assert re.fullmatch(rf"\[INFO\]\t\S+Z\t{ids[0]}\tthrough logging", messages[4])
    assert messages[5] == f"END RequestId: {ids[0]}"
    report = re.fullmatch(
        rf"REPORT RequestId: {ids[0]}\tDuration: (\d+\.\d\d) ms\tBilled Duration: (\d+) ms\t"
        r"Memory Size: 128 MB\tMax Memory Used: (\d+) MB\tInit Duration: (\d+\.\d\d) ms",
        messages[6],
    )
    assert report is not None, messages[6]
    duration, billed, used, init = (float(group) for group in report.groups())
    assert billed == int(duration + init) + 1 or billed == duration + init
    assert 5 <= used <= 512
    assert messages[7] == f"START RequestId: {ids[1]} Version: $LATEST"
    assert messages[11].startswith(f"REPORT RequestId: {ids[1]}\tDuration: ")
    assert "Init Duration" not in messages[11] and "Memory Size: 128 MB" in messages[11]
    stamps = [event["timestamp"] for event in events]
    assert stamps == sorted(stamps)


def test_output_is_in_cloudwatch_logs_while_the_function_runs(
    lambda_client: Any, logs: Any
) -> None:
    """GIVEN a function that prints 3 MB (more than a pipe holds) and then works for 2 s
    WHEN invoked THEN every line is in CloudWatch Logs before it answers."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        call = pool.submit(
            lambda_client.invoke, FunctionName="echo", Payload=b'{"lines": 30, "sleep": 2}'
        )
        printed = wait_for(
            lambda: len(found := events_of(logs, "echo", '"029 yyyy"')) == 1 and found
        )
        running = not call.done()
        response = call.result()

    assert running
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert printed[0]["message"] == "029 " + "y" * 100_000
    assert len(events_of(logs, "echo", "yyyy")) == 30


def test_each_execution_environment_has_its_own_stream(lambda_client: Any, logs: Any) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(
            pool.map(
                lambda _: lambda_client.invoke(FunctionName="echo", Payload=b'{"sleep": 0.5}'),
                range(2),
            )
        )
    ids = {r["ResponseMetadata"]["RequestId"] for r in responses}

    starts = wait_for(
        lambda: (
            [
                event
                for event in events_of(logs, "echo", '"START RequestId"')
                if event["message"].split()[2] in ids
            ]
            if len(ids) == 2
            else None
        )
    )
    reports = wait_for(
        lambda: [e for e in events_of(logs, "echo", "REPORT") if e["message"].split()[2] in ids]
    )

    assert len({event["logStreamName"] for event in starts}) == 2
    assert all("Memory Size: 256 MB" in event["message"] for event in reports)


def test_the_aws_cli_invokes_with_a_log_tail(
    edge: Edge, runtime: LambdaRuntime, tmp_path: Path
) -> None:
    out = tmp_path / "out.json"
    event = tmp_path / "event.json"
    event.write_text('{"from": "cli"}')
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_ENDPOINT_URL": edge.url,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,  # the one CLI v1 reads
        "AWS_MAX_ATTEMPTS": "1",
        **CREDENTIALS.environment(),
    }

    completed = subprocess.run(
        [
            str(AWS_CLI),
            "lambda",
            "invoke",
            "--function-name",
            "echo",
            "--payload",
            f"fileb://{event}",  # raw bytes in both CLI versions
            "--log-type",
            "Tail",
            str(out),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    answer = json.loads(completed.stdout)
    assert answer["StatusCode"] == 200 and answer["ExecutedVersion"] == "$LATEST"
    assert 'got {"from": "cli"}' in base64.b64decode(answer["LogResult"]).decode()
    assert json.loads(out.read_text())["echo"] == {"from": "cli"}


def test_the_projects_predict_proxy_logs_to_its_configured_group(
    runtime: LambdaRuntime, lambda_client: Any, logs: Any, lambda_zips: Path
) -> None:
    """GIVEN the project's PredictProxy zip with the stack's LoggingConfig group and memory
    WHEN invoked with a body that is not JSON THEN its 400 comes back and its own JSON log line
    and Lambda's REPORT (256 MB) are in that group."""
    group = "/aws/lambda/abalone-predict-proxy-logs"
    runtime.register(
        LambdaFunction(
            "abalone-predict-proxy",
            lambda_zips / "predict_proxy.zip",
            "app.handler",
            memory=256,
            timeout=10,
            log_group=group,
        )
    )
    event = {"body": "not json", "requestContext": {"requestId": "api-request-1"}}

    response = lambda_client.invoke(
        FunctionName="abalone-predict-proxy", Payload=json.dumps(event).encode()
    )

    assert json.loads(response["Payload"].read())["statusCode"] == 400
    request_id = response["ResponseMetadata"]["RequestId"]
    events = wait_for(
        lambda: len(found := logs.filter_log_events(logGroupName=group)["events"]) >= 5 and found
    )
    messages = [event["message"] for event in events]
    done = [json.loads(m) for m in messages if m.startswith("{")]
    assert done[-1]["message"] == "request done" and done[-1]["status"] == 400
    assert done[-1]["request_id"] == "api-request-1"
    assert messages[-1].startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    assert "\tMemory Size: 256 MB\t" in messages[-1]


def test_an_init_error_is_a_function_error_in_lambdas_shape(
    runtime: LambdaRuntime, lambda_client: Any
) -> None:
    broken = build_zip({"app.py": "import nothing_here\n"})
    runtime.register(LambdaFunction("broken", broken, "app.handler"))

    response = lambda_client.invoke(FunctionName="broken", LogType="Tail")

    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read()) == {
        "errorMessage": "Unable to import module 'app': No module named 'nothing_here'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }
    log = base64.b64decode(response["LogResult"]).decode()
    assert "[ERROR] Runtime.ImportModuleError: Unable to import module 'app'" in log
    assert "\tStatus: error\tError Type: Runtime.ImportModuleError" in log
