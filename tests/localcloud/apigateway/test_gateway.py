"""The local API gateway over real HTTP, in front of real Lambda workers."""

from __future__ import annotations

import base64
import http.client
import io
import json
import socket
import textwrap
import time
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from localcloud.apigateway import (
    ApiDefinition,
    ApiKey,
    LocalApiGateway,
    PortInUse,
    Quota,
    Route,
    Throttle,
    UsagePlan,
)
from localcloud.apigateway.policy import ResourcePolicy, UnsupportedPolicy
from localcloud.constants import REGION
from localcloud.lambda_runtime import LambdaFunction, LambdaRuntime

# `sam local generate-event apigateway aws-proxy --stage prod --path predict --method POST
#  --body '{"instances": []}'` (SAM CLI 1.170.0): the shape our events must have.
SAM_EVENT = json.loads(Path(__file__).with_name("sam_apigateway_aws_proxy.json").read_text())

API_KEY = "local-api-key-0123456789"
API_KEY_ID = "k3y1d"
INTEGRATION_TIMEOUT = 0.6

FUNCTIONS = {
    # Answers with the event it got, so tests can read what API Gateway sent.
    "echo": """
        import json

        def handler(event, context):
            return {"statusCode": 200, "body": json.dumps(event)}
    """,
    # Answers with whatever proxy result the request body spells out.
    "responder": """
        import json

        def handler(event, context):
            return json.loads(event["body"])
    """,
    "raiser": """
        def handler(event, context):
            raise RuntimeError("the endpoint is not InService")
    """,
    "sleeper": """
        import time

        def handler(event, context):
            time.sleep(float(event["body"]))
            return {"statusCode": 200, "body": "awake"}
    """,
}


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", textwrap.dedent(source))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaRuntime]:
    """The functions above; `sleeper` times out after 0.3 s, `patient` after 5 s."""
    runtime = LambdaRuntime(tmp_path_factory.mktemp("state"), {"AWS_REGION": REGION})
    for name, source in FUNCTIONS.items():
        runtime.register(LambdaFunction(name, _zip(source), "app.handler", timeout=0.3))
    runtime.register(
        LambdaFunction("patient", _zip(FUNCTIONS["sleeper"]), "app.handler", timeout=5)
    )
    yield runtime
    runtime.shutdown()


ROUTES = [
    Route("prod", "POST", "/predict", "echo", {"endpointName": "abalone-prod"}, True),
    Route("dev", "POST", "/predict", "echo", {"endpointName": "abalone-dev"}, True),
    Route("prod", "GET", "/items/{id}", "echo"),
    Route("prod", "ANY", "/files/{path+}", "echo"),
    Route("prod", "POST", "/respond", "responder"),
    Route("prod", "POST", "/fail", "raiser"),
    Route("prod", "POST", "/sleep", "sleeper"),
    Route("prod", "POST", "/wait", "patient"),
    Route("prod", "POST", "/missing-function", "never-registered"),
]
# The key is in a usage plan of both stages with no limits: what API Gateway needs to accept it.
DEFINITION = ApiDefinition(
    routes=tuple(ROUTES),
    api_keys=(ApiKey(API_KEY_ID, API_KEY),),
    usage_plans=(UsagePlan("plan", frozenset({"prod", "dev"}), frozenset({API_KEY_ID})),),
)


@pytest.fixture(scope="module")
def gateway(runtime: LambdaRuntime) -> Iterator[LocalApiGateway]:
    """The gateway on a free port, with a short integration timeout so 504s come fast."""
    gateway = LocalApiGateway(runtime, DEFINITION, port=0, integration_timeout=INTEGRATION_TIMEOUT)
    gateway.start()
    yield gateway
    gateway.stop()


def post(
    gateway: LocalApiGateway, path: str, body: Any = None, **headers: str
) -> requests.Response:
    data = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
    return requests.post(f"{gateway.url}{path}", data=data, headers=headers, timeout=10)


def predict(gateway: LocalApiGateway, stage: str = "prod", **query: str) -> dict[str, Any]:
    response = requests.post(
        f"{gateway.url}/{stage}/predict",
        params=query,
        json={"instances": [{"sex": "M", "length": 0.455}]},
        headers={"x-api-key": API_KEY, "X-Custom": "yes"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_the_event_has_the_shape_sam_generates(gateway: LocalApiGateway) -> None:
    event = predict(gateway)

    assert set(event) == set(SAM_EVENT)
    assert set(event["requestContext"]) >= set(SAM_EVENT["requestContext"])
    assert set(event["requestContext"]["identity"]) >= set(SAM_EVENT["requestContext"]["identity"])
    assert event["resource"] == event["requestContext"]["resourcePath"] == "/predict"
    assert event["path"] == SAM_EVENT["path"] == "/predict"
    assert event["requestContext"]["path"] == SAM_EVENT["requestContext"]["path"] == "/prod/predict"
    assert event["httpMethod"] == event["requestContext"]["httpMethod"] == "POST"
    assert event["requestContext"]["stage"] == "prod"
    assert event["stageVariables"] == {"endpointName": "abalone-prod"}
    assert event["pathParameters"] is None
    assert event["queryStringParameters"] is None
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == {"instances": [{"sex": "M", "length": 0.455}]}
    assert event["headers"]["X-Custom"] == "yes"
    assert event["multiValueHeaders"]["X-Custom"] == ["yes"]
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert event["headers"]["X-Forwarded-Port"] == str(gateway.port)
    identity = event["requestContext"]["identity"]
    assert identity["apiKey"] == API_KEY
    assert identity["apiKeyId"] == API_KEY_ID
    assert identity["sourceIp"] == "127.0.0.1"
    assert identity["userAgent"].startswith("python-requests/")


def test_each_stage_has_its_own_stage_variables(gateway: LocalApiGateway) -> None:
    assert predict(gateway, "dev")["stageVariables"] == {"endpointName": "abalone-dev"}
    assert predict(gateway, "prod")["stageVariables"] == {"endpointName": "abalone-prod"}


def test_query_string_and_path_parameters(gateway: LocalApiGateway) -> None:
    event = requests.get(f"{gateway.url}/prod/items/42?tag=a&tag=b&empty=", timeout=10).json()
    greedy = requests.delete(f"{gateway.url}/prod/files/a/b/c.csv", timeout=10).json()

    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/items/42"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"tag": "b", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "empty": [""]}
    assert event["body"] is None
    assert event["stageVariables"] is None
    assert event["requestContext"]["identity"]["apiKey"] is None
    assert greedy["pathParameters"] == {"path": "a/b/c.csv"}
    assert greedy["httpMethod"] == "DELETE"


def test_a_binary_body_arrives_base64_encoded(gateway: LocalApiGateway) -> None:
    event = post(gateway, "/prod/predict", b"\xff\xfe\x00raw", **{"x-api-key": API_KEY}).json()

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe\x00raw"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/prod/unknown"),
        ("GET", "/prod/predict"),
        ("POST", "/staging/predict"),
        ("POST", "/"),
        ("POST", "/prod"),
        ("PUT", "/prod/items/42"),
    ],
)
def test_unknown_routes_and_methods_are_missing_authentication_token(
    gateway: LocalApiGateway, method: str, path: str
) -> None:
    response = requests.request(
        method, f"{gateway.url}{path}", headers={"x-api-key": API_KEY}, timeout=10
    )

    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong"}, {"x-api-key": ""}])
def test_a_missing_or_wrong_api_key_is_forbidden(
    gateway: LocalApiGateway, headers: dict[str, str]
) -> None:
    response = post(gateway, "/prod/predict", {"instances": []}, **headers)

    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden"}
    assert response.headers["x-amzn-ErrorType"] == "ForbiddenException"


def test_the_api_key_header_name_is_case_insensitive(gateway: LocalApiGateway) -> None:
    assert post(gateway, "/prod/predict", {}, **{"X-API-Key": API_KEY}).status_code == 200


def test_the_proxy_result_becomes_the_http_response(gateway: LocalApiGateway) -> None:
    result = {
        "statusCode": 201,
        "headers": {"X-Model": "abalone", "Set-Cookie": "ignored=1", "Content-Length": "999"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": '{"predictions": [9.5]}',
        "isBase64Encoded": False,
    }

    response = post(gateway, "/prod/respond", result)

    assert response.status_code == 201
    assert response.json() == {"predictions": [9.5]}
    assert response.headers["X-Model"] == "abalone"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert response.headers["Content-Type"] == "application/json"  # API Gateway's default
    assert response.headers["x-amzn-Remapped-Content-Length"] == "999"
    assert response.headers["Content-Length"] == str(len(response.content))
    assert response.headers["x-amzn-RequestId"]


def test_a_base64_result_is_decoded(gateway: LocalApiGateway) -> None:
    result = {
        "statusCode": 200,
        "headers": {"Content-Type": "text/csv"},
        "body": base64.b64encode(b"9.5\n10.1\n").decode(),
        "isBase64Encoded": True,
    }

    response = post(gateway, "/prod/respond", result)

    assert response.content == b"9.5\n10.1\n"
    assert response.headers["Content-Type"] == "text/csv"


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": "200", "body": "{}"},
        {"statusCode": 200, "body": "{}", "message": "extra key"},
        {"statusCode": 200, "headers": {"X-Bad": "line\r\nbreak"}},
        {"statusCode": 200, "body": "not base64!", "isBase64Encoded": True},
        ["a", "list"],
        "a string",
    ],
    ids=[
        "body-object",
        "status-string",
        "extra-key",
        "header-newline",
        "bad-base64",
        "list",
        "str",
    ],
)
def test_a_malformed_proxy_result_is_a_502(gateway: LocalApiGateway, result: Any) -> None:
    response = post(gateway, "/prod/respond", result)

    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_a_function_error_is_a_502(gateway: LocalApiGateway) -> None:
    response = post(gateway, "/prod/fail", {})

    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_a_function_timing_out_before_the_integration_is_a_502(gateway: LocalApiGateway) -> None:
    """GIVEN a function timeout (0.3 s) shorter than the integration timeout (0.6 s) THEN 502,
    as in API Gateway: Lambda answered, with an error."""
    response = post(gateway, "/prod/sleep", "2")

    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_the_integration_timeout_is_a_504(gateway: LocalApiGateway) -> None:
    """GIVEN a function allowed 5 s behind a 0.6 s integration timeout THEN 504 after ~0.6 s."""
    started = time.monotonic()
    response = post(gateway, "/prod/wait", "3")

    assert response.status_code == 504
    assert response.json() == {"message": "Endpoint request timed out"}
    assert time.monotonic() - started < 2.5
    assert post(gateway, "/prod/wait", "0").text == "awake"


def test_a_function_that_does_not_exist_is_a_500(gateway: LocalApiGateway) -> None:
    response = post(gateway, "/prod/missing-function", {})

    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error"}


def test_a_body_over_10_mb_is_refused_without_reading_it(gateway: LocalApiGateway) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as connection:
        connection.sendall(
            b"POST /prod/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 10485761\r\n\r\n"
        )
        answer = connection.makefile("rb").read()

    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in answer.lower()
    assert answer.endswith(b'{"message": "Request Too Long"}')


def test_a_chunked_request_body_is_read(gateway: LocalApiGateway) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    connection.request(
        "POST",
        "/prod/predict",
        body=iter([b'{"instances": ', b"[1, 2]}"]),
        headers={"x-api-key": API_KEY},
        encode_chunked=True,
    )
    event = json.loads(connection.getresponse().read())
    connection.close()

    assert json.loads(event["body"]) == {"instances": [1, 2]}


def test_connections_are_kept_alive(gateway: LocalApiGateway) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    sources = []
    for _ in range(3):
        connection.request("POST", "/prod/predict", body=b"{}", headers={"x-api-key": API_KEY})
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        assert not response.will_close
        assert connection.sock is not None
        sources.append(connection.sock.getsockname())
    connection.close()

    assert len(set(sources)) == 1


def test_a_taken_port_is_named_and_stop_frees_it(runtime: LambdaRuntime) -> None:
    first = LocalApiGateway(runtime, ApiDefinition(()), port=0)
    first.start()
    port = first.port

    with pytest.raises(PortInUse, match=f"port {port} on 127.0.0.1 is already in use"):
        LocalApiGateway(runtime, ApiDefinition(()), port=port).start()
    first.stop()
    first.stop()
    second = LocalApiGateway(
        runtime, ApiDefinition((Route("prod", "GET", "/x", "echo"),)), port=port
    )
    second.start()
    try:
        assert requests.get(f"{second.url}/prod/x", timeout=10).status_code == 200
    finally:
        second.stop()


def test_stop_ends_idle_keep_alive_connections(runtime: LambdaRuntime) -> None:
    gateway = LocalApiGateway(runtime, ApiDefinition((Route("prod", "GET", "/x", "echo"),)), port=0)
    gateway.start()
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=5)
    connection.request("GET", "/prod/x")
    connection.getresponse().read()

    gateway.stop()

    assert connection.sock is not None
    assert connection.sock.recv(1) == b""  # the server closed its end
    connection.close()


def _exchange(gateway: LocalApiGateway, raw: bytes, timeout: float = 3.0) -> tuple[bytes, float]:
    """Send raw bytes; (what came back before the server closed or `timeout`, seconds taken)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=timeout) as connection:
        connection.sendall(raw)
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer:
                    head, _, rest = answer.partition(b"\r\n\r\n")
                    length = next(
                        (
                            int(line.split(b":")[1])
                            for line in head.lower().split(b"\r\n")
                            if line.startswith(b"content-length:")
                        ),
                        None,
                    )
                    if length is not None and len(rest) >= length:
                        break
        except TimeoutError:
            pass
    return answer, time.monotonic() - started


HEAD = b"POST /prod/predict HTTP/1.1\r\nHost: x\r\nx-api-key: " + API_KEY.encode() + b"\r\n"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (HEAD + b"Content-Length: -1\r\n\r\n", b"400"),
        (HEAD + b"Content-Length: abc\r\n\r\n", b"400"),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", b"400"),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n-5\r\nabc\r\n0\r\n\r\n", b"400"),
        (
            HEAD + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            b"400",
        ),
    ],
)
def test_malformed_framing_is_answered_at_once(
    gateway: LocalApiGateway, raw: bytes, status: bytes
) -> None:
    answer, seconds = _exchange(gateway, raw)
    assert answer.startswith(b"HTTP/1.1 " + status + b" "), answer[:200]
    assert seconds < 2


def test_a_chunked_body_over_10_mb_is_refused(gateway: LocalApiGateway) -> None:
    chunk = b"x" * (1024 * 1024)
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(11)) + b"0\r\n\r\n"
    answer, _ = _exchange(gateway, HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + body, 10)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert answer.endswith(b'{"message": "Request Too Long"}')


@pytest.mark.parametrize("path", ["/prod%2fpredict", "/prod%2Fpredict", "/prod/pre%2fdict"])
def test_an_encoded_slash_is_part_of_a_segment_not_a_separator(
    gateway: LocalApiGateway, path: str
) -> None:
    response = requests.post(
        f"{gateway.url}{path}", json={}, headers={"x-api-key": API_KEY}, timeout=5
    )
    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}


def test_many_slow_connections_do_not_stop_others_being_served(gateway: LocalApiGateway) -> None:
    # GIVEN 100 connections that sent half a request and wait
    idle = [socket.create_connection(("127.0.0.1", gateway.port), timeout=5) for _ in range(100)]
    try:
        for connection in idle:
            connection.sendall(HEAD + b"Content-Length: 10\r\n\r\nabc")
        # WHEN another client calls THEN it is answered
        response = post(gateway, "/prod/predict", {"instances": []}, **{"x-api-key": API_KEY})
        assert response.status_code == 200
    finally:
        for connection in idle:
            connection.close()


# --- usage plans and the resource policy -------------------------------------------------


def _limited(
    runtime: LambdaRuntime,
    plan: UsagePlan | None = None,
    policy: ResourcePolicy | None = None,
    keys: tuple[ApiKey, ...] = (ApiKey(API_KEY_ID, API_KEY),),
    throttle: Throttle | None = None,
) -> LocalApiGateway:
    """A started gateway in front of `echo` with the limits given (stop it after)."""
    route = Route("prod", "POST", "/predict", "echo", {}, True, throttle)
    plan = plan or UsagePlan("plan", frozenset({"prod"}), frozenset({API_KEY_ID}))
    gateway = LocalApiGateway(
        runtime, ApiDefinition((route,), keys, (plan,), policy, api_id="a1b2c3d4e5"), port=0
    )
    gateway.start()
    return gateway


def _statuses(gateway: LocalApiGateway, count: int) -> list[requests.Response]:
    with requests.Session() as session:
        return [
            session.post(
                f"{gateway.url}/prod/predict", data="{}", headers={"x-api-key": API_KEY}, timeout=10
            )
            for _ in range(count)
        ]


def test_a_burst_past_the_usage_plans_limit_is_throttled_with_429(runtime: LambdaRuntime) -> None:
    # GIVEN a plan of burst 3 and 0.01 requests a second
    plan = UsagePlan("plan", frozenset({"prod"}), frozenset({API_KEY_ID}), Throttle(0.01, 3))
    gateway = _limited(runtime, plan)
    try:
        # WHEN the key sends 5 requests at once
        answers = _statuses(gateway, 5)
    finally:
        gateway.stop()
    # THEN the burst passes and the rest get API Gateway's throttling answer
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert answers[-1].json() == {"message": "Too Many Requests"}
    assert answers[-1].headers["x-amzn-ErrorType"] == "TooManyRequestsException"


def test_the_stages_method_throttling_applies_to_all_callers(runtime: LambdaRuntime) -> None:
    gateway = _limited(runtime, throttle=Throttle(0.01, 2))
    try:
        answers = _statuses(gateway, 3)
    finally:
        gateway.stop()
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[-1].json() == {"message": "Too Many Requests"}


def test_requests_past_the_quota_get_429_limit_exceeded(runtime: LambdaRuntime) -> None:
    # GIVEN a daily quota of 3, 1 of them used up by the offset in this first day
    quota = Quota(3, "DAY", offset=1)
    plan = UsagePlan("plan", frozenset({"prod"}), frozenset({API_KEY_ID}), quota=quota)
    gateway = _limited(runtime, plan)
    try:
        answers = _statuses(gateway, 3)
    finally:
        gateway.stop()
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[-1].json() == {"message": "Limit Exceeded"}
    assert answers[-1].headers["x-amzn-ErrorType"] == "LimitExceededException"


@pytest.mark.parametrize(
    ("keys", "plan_keys", "plan_stages"),
    [
        ((ApiKey(API_KEY_ID, API_KEY, enabled=False),), {API_KEY_ID}, {"prod"}),  # disabled
        ((ApiKey(API_KEY_ID, API_KEY),), set(), {"prod"}),  # in no usage plan
        ((ApiKey(API_KEY_ID, API_KEY),), {API_KEY_ID}, {"dev"}),  # its plan lacks this stage
    ],
)
def test_a_key_api_gateway_would_not_accept_is_forbidden(
    runtime: LambdaRuntime, keys: tuple[ApiKey, ...], plan_keys: set[str], plan_stages: set[str]
) -> None:
    plan = UsagePlan("plan", frozenset(plan_stages), frozenset(plan_keys))
    gateway = _limited(runtime, plan, keys=keys)
    try:
        (answer,) = _statuses(gateway, 1)
    finally:
        gateway.stop()
    assert answer.status_code == 403
    assert answer.json() == {"message": "Forbidden"}


def _source_ip_policy(effect: str, cidrs: list[str]) -> ResourcePolicy:
    statement = {
        "Effect": effect,
        "Principal": "*",
        "Action": "execute-api:Invoke",
        "Resource": "execute-api:/*/POST/predict",
        "Condition": {"IpAddress": {"aws:SourceIp": cidrs}},
    }
    allow_all = {**statement, "Effect": "Allow", "Condition": {}}
    statements = [statement] if effect == "Allow" else [allow_all, statement]
    return ResourcePolicy(
        {"Version": "2012-10-17", "Statement": statements},
        "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5",
    )


METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/predict"


@pytest.mark.parametrize(
    ("policy", "status", "message"),
    [
        (_source_ip_policy("Allow", ["127.0.0.0/8"]), 200, None),
        (
            _source_ip_policy("Allow", ["198.51.100.0/24"]),
            403,
            f"User: anonymous is not authorized to perform: execute-api:Invoke on resource: "
            f"{METHOD_ARN}",
        ),
        (
            _source_ip_policy("Deny", ["127.0.0.1/32"]),
            403,
            f"User: anonymous is not authorized to perform: execute-api:Invoke on resource: "
            f"{METHOD_ARN} with an explicit deny",
        ),
    ],
)
def test_the_resource_policy_decides_by_source_address(
    runtime: LambdaRuntime, policy: ResourcePolicy, status: int, message: str | None
) -> None:
    gateway = _limited(runtime, policy=policy)
    try:
        (answer,) = _statuses(gateway, 1)
    finally:
        gateway.stop()
    assert answer.status_code == status
    if message is not None:
        assert answer.json() == {"Message": message}
        assert answer.headers["x-amzn-ErrorType"] == "AccessDeniedException"


@pytest.mark.parametrize(
    "document",
    [
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}},
                }
            ]
        },
        {"Statement": [{"Effect": "Allow", "NotPrincipal": "*", "Action": "*", "Resource": "*"}]},
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {"IpAddress": {"aws:SourceIp": "not-a-cidr"}},
                }
            ]
        },
        "not json",
    ],
)
def test_a_policy_the_gateway_cannot_evaluate_is_refused_naming_what(document: Any) -> None:
    with pytest.raises(UnsupportedPolicy):
        ResourcePolicy(document, "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5")


def test_a_definition_read_again_takes_effect(runtime: LambdaRuntime) -> None:
    # GIVEN a gateway reading its definition from a function (as from moto's API)
    definitions = [DEFINITION]
    gateway = LocalApiGateway(runtime, lambda: definitions[-1], port=0, refresh_seconds=60)
    gateway.start()
    try:
        assert post(gateway, "/prod/predict", {}, **{"x-api-key": API_KEY}).status_code == 200
        # WHEN the key is disabled and the gateway reads the definition again
        definitions.append(replace(DEFINITION, api_keys=(ApiKey(API_KEY_ID, API_KEY, False),)))
        gateway.refresh()
        # THEN the key is refused
        assert post(gateway, "/prod/predict", {}, **{"x-api-key": API_KEY}).status_code == 403
    finally:
        gateway.stop()


def test_an_answer_has_one_date_and_a_request_id(gateway: LocalApiGateway) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=5)
    try:
        connection.request("POST", "/prod/predict", body=b"{}", headers={"x-api-key": API_KEY})
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert len(response.headers.get_all("Date") or []) == 1
    assert len(response.headers.get_all("x-amzn-RequestId") or []) == 1
