"""PredictProxy: API Gateway proxy events in, predictions or a clear HTTP error out."""

from __future__ import annotations

import base64
import io
import json
import re
from types import ModuleType

import pytest
from botocore.response import StreamingBody

from tests.lambdas.conftest import Capture, load_event

MODEL = "demo-dev-20250102-031000-beef"
INFERENCE_ID = "order-4711/line-3"  # a caller's own id: printable ASCII, at most 64
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
RECORD = {"sex": "M", "length": 0.455, "diameter": 0.365, "height": 0.095}
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"  # the captured event's


@pytest.fixture(autouse=True)
def default_limit(predict_proxy: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with the default instance limit."""
    monkeypatch.delenv("MAX_INSTANCES", raising=False)


def request(
    body: object = None,
    *,
    raw: str | None = None,
    stage_variables: object = ...,
    inference_id: str | None = INFERENCE_ID,
) -> dict:
    """The captured API Gateway event as POST /dev/predict with this body (and, unless None,
    this X-Inference-Id header)."""
    event = load_event("apigateway_aws_proxy.json")
    if inference_id is not None:
        event["headers"]["X-Inference-Id"] = inference_id
        event["multiValueHeaders"]["X-Inference-Id"] = [inference_id]
    event.update(resource="/predict", path="/predict", isBase64Encoded=False, pathParameters=None)
    event["requestContext"].update(stage="dev", path="/dev/predict", resourcePath="/predict")
    event["body"] = raw if raw is not None else json.dumps(body)
    event["stageVariables"] = (
        {"endpointName": "demo-dev"} if stage_variables is ... else stage_variables
    )
    return event


def answer(payload: object, attributes: str | None = f"model={MODEL}") -> dict:
    """An InvokeEndpoint response; `attributes` is what the container put in CustomAttributes."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    response = {
        "Body": StreamingBody(io.BytesIO(body), len(body)),
        "ContentType": "application/json",
        "InvokedProductionVariant": "AllTraffic",
    }
    return response if attributes is None else {**response, "CustomAttributes": attributes}


def expect_invoke(
    runtime, body: bytes, payload: object, inference_id: object = INFERENCE_ID, **kwargs: str | None
) -> None:
    """The endpoint gets exactly `body`, as the caller sent it, under `inference_id`, and
    answers `payload`."""
    runtime.add_response(
        "invoke_endpoint",
        answer(payload, **kwargs),
        {
            "EndpointName": "demo-dev",
            "Body": body,
            "ContentType": "application/json",
            "Accept": "application/json",
            "InferenceId": inference_id,
        },
    )


def respond(predict_proxy: ModuleType, event: dict) -> dict:
    """Invoke the handler; the proxy response must be well formed, its body JSON."""
    response = predict_proxy.handler(event, None)
    assert set(response) == {"statusCode", "headers", "body", "isBase64Encoded"}
    assert response["headers"]["Content-Type"] == "application/json"
    assert set(response["headers"]) <= {"Content-Type", "X-Inference-Id"}
    assert response["isBase64Encoded"] is False
    json.loads(response["body"])
    return response


def call(predict_proxy: ModuleType, event: dict) -> tuple[int, dict]:
    """Invoke the handler: the status and the JSON body, the inference id left out of both
    (the tests of the id look at it; here it is the one the request sent)."""
    response = respond(predict_proxy, event)
    body = json.loads(response["body"])
    if response["statusCode"] == 200:
        assert body.pop("inference_id") == response["headers"]["X-Inference-Id"]
    return response["statusCode"], body


def test_instances_get_predictions_and_the_model_that_answered(predict_proxy, stub):
    # GIVEN a body as a client formats it: spacing, key order and an extra key of its own
    body = '{ "note": "batch 7",\n  "instances": [{"sex": "M", "length": 0.4550}, {"sex": "F"}] }'
    expect_invoke(stub(predict_proxy.RUNTIME), body.encode(), {"predictions": [9.5, 10.25]})
    # WHEN it is posted
    status, answered = call(predict_proxy, request(raw=body))
    # THEN the endpoint got those very bytes (Stubber checks them: no re-serialising), and the
    # caller 200 with a prediction per record, the endpoint and the model named by the container
    assert status == 200
    assert answered == {"predictions": [9.5, 10.25], "endpoint": "demo-dev", "model": MODEL}


@pytest.mark.parametrize(
    ("attributes", "model"),
    [
        (f"model={MODEL}", MODEL),
        (f"trace=abc; model={MODEL}", MODEL),
        ("model=demo-dev-20250103-000000-cafe", "demo-dev-20250103-000000-cafe"),
    ],
)
def test_the_model_name_is_the_one_each_answer_carries(predict_proxy, stub, attributes, model):
    # GIVEN the container's CustomAttributes, among any others it may send
    body = json.dumps({"instances": [RECORD]}).encode()
    expect_invoke(stub(predict_proxy.RUNTIME), body, {"predictions": [7]}, attributes=attributes)
    # WHEN posted THEN the answer names the model of that very answer (nothing is cached)
    assert call(predict_proxy, request({"instances": [RECORD]}))[1]["model"] == model


@pytest.mark.parametrize("attributes", [None, "", "trace=abc"])
def test_an_image_that_names_no_model_still_answers_without_the_name(
    predict_proxy, stub, attributes
):
    # GIVEN a container built before serve named its model
    body = json.dumps({"instances": [RECORD]}).encode()
    expect_invoke(stub(predict_proxy.RUNTIME), body, {"predictions": [7]}, attributes=attributes)
    # WHEN posted THEN 200 with the predictions, and no "model" rather than a wrong one
    assert call(predict_proxy, request({"instances": [RECORD]})) == (
        200,
        {"predictions": [7], "endpoint": "demo-dev"},
    )


def test_a_base64_body_is_decoded(predict_proxy, stub):
    # GIVEN the body base64-encoded, as the captured event has it
    body = json.dumps({"instances": [RECORD]}).encode()
    event = request(raw=base64.b64encode(body).decode())
    event["isBase64Encoded"] = True
    expect_invoke(stub(predict_proxy.RUNTIME), body, {"predictions": [7]})
    # WHEN posted THEN it is understood, and forwarded decoded
    assert call(predict_proxy, event) == (
        200,
        {"predictions": [7], "endpoint": "demo-dev", "model": MODEL},
    )


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (request(raw=""), 'the body is empty: send {"instances": [{...}, ...]}'),
        (request(raw="{'instances': []}"), "the body is not valid JSON: Expecting property name"),
        (request([RECORD]), 'the body must be a JSON object {"instances": [{...}, ...]}'),
        (request({"records": [RECORD]}), 'the body must be a JSON object {"instances"'),
        (request({"instances": RECORD}), 'the body must be a JSON object {"instances"'),
        (request({"instances": []}), "instances is empty: send 1 to 100 records"),
        (request({"instances": [RECORD] * 101}), "too many instances: 101, at most 100"),
        (
            request({"instances": [RECORD, [1, 2]]}),
            "instances[1] must be a JSON object of features, not array",
        ),
        (
            request({"instances": ["M,0.4"]}),
            "instances[0] must be a JSON object of features, not string",
        ),
        (request(raw="[" * 5000), "the body is not valid JSON: it nests too deeply"),
        (
            request(raw='{"instances": [{"length": ' + "9" * 5000 + "}]}"),
            "the body is not valid JSON: Exceeds the limit (4300 digits)",
        ),
        (request(raw='{"instances": [{"sex": "\ud800"}]}'), "the body is not UTF-8 text"),
    ],
)
def test_bad_bodies_get_400_with_the_reason(predict_proxy, event, message):
    # GIVEN a body that is not {"instances": [1..100 objects]}
    # WHEN posted (no AWS call may happen: no stubs, no endpoint)
    status, body = call(predict_proxy, event)
    # THEN 400 naming the problem
    assert status == 400
    assert body["message"].startswith(message)


def test_the_instance_limit_comes_from_the_environment(predict_proxy, monkeypatch):
    # GIVEN MAX_INSTANCES=2
    monkeypatch.setenv("MAX_INSTANCES", "2")
    # WHEN three records are posted THEN 400
    assert call(predict_proxy, request({"instances": [RECORD] * 3})) == (
        400,
        {"message": "too many instances: 3, at most 2 per request"},
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not base64}", "the body is not valid base64"),
        (base64.b64encode(b'{"instances": [{"sex": "\xff"}]}').decode(), "the body is not UTF-8"),
    ],
)
def test_a_body_flagged_base64_that_is_not_base64_of_text_gets_400(predict_proxy, raw, message):
    # GIVEN a body flagged base64 that is not base64, or not of UTF-8 text
    event = request(raw=raw)
    event["isBase64Encoded"] = True
    # WHEN posted THEN 400
    assert call(predict_proxy, event)[1]["message"].startswith(message)


def test_a_body_over_the_payload_limit_gets_413(predict_proxy, monkeypatch):
    # GIVEN a payload limit smaller than the request
    monkeypatch.setattr(predict_proxy, "MAX_PAYLOAD_BYTES", 50)
    # WHEN posted THEN 413
    status, body = call(predict_proxy, request({"instances": [RECORD]}))
    assert status == 413
    assert body["message"].endswith("over the 6 MB limit")


def test_a_stage_without_an_endpoint_gets_503(predict_proxy):
    # GIVEN a stage deployed without the endpointName stage variable
    # WHEN posted THEN 503 explaining it
    assert call(predict_proxy, request({"instances": [RECORD]}, stage_variables=None)) == (
        503,
        {"message": "this API stage has no endpointName stage variable"},
    )


@pytest.mark.parametrize(
    ("original", "message"),
    [
        ('{"message": "missing feature: whole_weight"}', "missing feature: whole_weight"),
        ('{"error": "sex must be one of M, F, I"}', "sex must be one of M, F, I"),
        ("length is not a number", "length is not a number"),
    ],
)
def test_the_model_rejecting_input_gets_400_with_its_message(
    predict_proxy, stub, original, message
):
    # GIVEN the model answers 4xx with its own message
    stub(predict_proxy.RUNTIME).add_client_error(
        "invoke_endpoint",
        "ModelError",
        f"Received client error (400) from primary with message {original!r}",
        424,
        modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": original},
    )
    # WHEN posted THEN the caller gets 400 and the model's words
    assert call(predict_proxy, request({"instances": [RECORD]})) == (400, {"message": message})


def test_the_model_failing_gets_502_without_its_insides(predict_proxy, stub):
    # GIVEN the model answers 500 with a traceback
    trace = 'Traceback (most recent call last):\n  File "/opt/program/serve.py"'
    stub(predict_proxy.RUNTIME).add_client_error(
        "invoke_endpoint",
        "ModelError",
        f"Received server error (500) from primary with message {trace!r}",
        424,
        modeled_fields={"OriginalStatusCode": 500, "OriginalMessage": trace},
    )
    # WHEN posted THEN 502, and the traceback stays in the log
    status, body = call(predict_proxy, request({"instances": [RECORD]}))
    assert (status, body) == (502, {"message": "the model behind demo-dev failed (status 500)"})


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (
            "ValidationError",
            "Endpoint demo-dev of account 123456789012 not found.",
            (503, "endpoint demo-dev does not exist"),
        ),
        (
            "ValidationError",
            "Endpoint demo-dev of account 123456789012 is not in service (status Failed): ...",
            (503, "endpoint demo-dev is not in service"),
        ),
        (
            "ModelNotReadyException",
            "Model is not ready",
            (503, "endpoint demo-dev is not ready: Model is not ready"),
        ),
        ("InternalFailure", "oops", (502, "endpoint demo-dev failed to answer (InternalFailure)")),
    ],
)
def test_runtime_errors_map_to_gateway_statuses(predict_proxy, stub, code, message, expected):
    # GIVEN SageMaker runtime refusing the call
    status_code = {"ValidationError": 400, "ModelNotReadyException": 429}.get(code, 500)
    stub(predict_proxy.RUNTIME).add_client_error("invoke_endpoint", code, message, status_code)
    # WHEN posted THEN the status says whose fault it is
    status, body = call(predict_proxy, request({"instances": [RECORD]}))
    assert (status, body["message"]) == expected


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"<html>oops</html>", "the model behind demo-dev did not answer JSON"),
        ({"predictions": [1, 2]}, "did not answer one prediction per instance"),
        ([1], "did not answer one prediction per instance"),
    ],
)
def test_an_unreadable_model_answer_gets_502(predict_proxy, stub, payload, message):
    # GIVEN the model answering something other than one prediction per record
    stub(predict_proxy.RUNTIME).add_response("invoke_endpoint", answer(payload))
    # WHEN posted THEN 502
    status, body = call(predict_proxy, request({"instances": [RECORD]}))
    assert status == 502
    assert message in body["message"]


def test_an_unexpected_error_gets_a_generic_500(predict_proxy, monkeypatch, capsys):
    # GIVEN the runtime failing in a way the proxy does not know (a bug, not the caller's)
    def broken(**params):
        raise RuntimeError("connection pool is full")

    monkeypatch.setattr(predict_proxy.RUNTIME, "invoke_endpoint", broken)
    # WHEN posted
    status, body = call(predict_proxy, request({"instances": [RECORD]}))
    # THEN one generic message with the request id; the details only in the JSON log
    assert (status, body) == (500, {"message": "internal error", "requestId": REQUEST_ID})
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    errors = [line for line in logged if line["level"] == "ERROR"]
    assert "connection pool is full" in errors[0]["exception"]
    assert all(line["request_id"] == REQUEST_ID for line in logged)


# --- the inference id ---------------------------------------------------------------------------


def test_the_callers_inference_id_is_sent_as_inference_id_and_answered(predict_proxy, stub):
    # GIVEN a request carrying its own X-Inference-Id
    body = json.dumps({"instances": [RECORD]}).encode()
    expect_invoke(stub(predict_proxy.RUNTIME), body, {"predictions": [7]})
    # WHEN posted
    response = respond(predict_proxy, request({"instances": [RECORD]}))
    # THEN InvokeEndpoint got it as InferenceId (Stubber checks), and the answer carries it as a
    # header and in the body, beside the keys the answer always had
    assert response["statusCode"] == 200
    assert response["headers"]["X-Inference-Id"] == INFERENCE_ID
    assert json.loads(response["body"]) == {
        "predictions": [7],
        "endpoint": "demo-dev",
        "model": MODEL,
        "inference_id": INFERENCE_ID,
    }


@pytest.mark.parametrize("name", ["x-inference-id", "X-INFERENCE-ID", "X-Inference-Id"])
def test_the_header_name_is_matched_whatever_its_case(predict_proxy, stub, name):
    # GIVEN the header spelt as some client (or HTTP/2, lower case) sends it
    event = request({"instances": [RECORD]}, inference_id=None)
    event["headers"][name] = "abc"
    expect_invoke(stub(predict_proxy.RUNTIME), event["body"].encode(), {"predictions": [7]}, "abc")
    # WHEN posted THEN it is the id used
    assert respond(predict_proxy, event)["headers"]["X-Inference-Id"] == "abc"


def test_without_the_header_a_new_uuid4_is_used(predict_proxy, stub):
    # GIVEN a request without X-Inference-Id
    body = json.dumps({"instances": [RECORD]}).encode()
    sent = Capture()
    expect_invoke(stub(predict_proxy.RUNTIME), body, {"predictions": [7]}, sent)
    # WHEN posted
    response = respond(predict_proxy, request({"instances": [RECORD]}, inference_id=None))
    # THEN a new UUID4 went to InvokeEndpoint and is the one answered, header and body
    assert UUID4.fullmatch(sent.value)
    assert response["headers"]["X-Inference-Id"] == sent.value
    assert json.loads(response["body"])["inference_id"] == sent.value


def test_each_request_without_the_header_gets_its_own_id(predict_proxy, stub):
    # GIVEN two requests without X-Inference-Id
    body = json.dumps({"instances": [RECORD]}).encode()
    runtime = stub(predict_proxy.RUNTIME)
    first, second = Capture(), Capture()
    expect_invoke(runtime, body, {"predictions": [7]}, first)
    expect_invoke(runtime, body, {"predictions": [7]}, second)
    # WHEN both are posted THEN their ids differ
    for _ in range(2):
        respond(predict_proxy, request({"instances": [RECORD]}, inference_id=None))
    assert first.value != second.value


@pytest.mark.parametrize(
    "bad",
    ["", " leading-space", "x" * 65, "caf\u00e9", "tab\there", "line\nbreak", "\x7f"],
)
def test_a_bad_inference_id_header_gets_400_naming_the_header_and_the_rule(predict_proxy, bad):
    # GIVEN an X-Inference-Id InvokeEndpoint would refuse (no AWS call may happen: no stubs)
    # WHEN posted
    status, body = call(predict_proxy, request({"instances": [RECORD]}, inference_id=bad))
    # THEN 400 naming the header, the rule and the value
    assert status == 400
    assert body["message"] == (
        "the X-Inference-Id header must be 1 to 64 printable ASCII characters, the first not a "
        f"space (InvokeEndpoint's InferenceId), got {bad!r}"
    )


@pytest.mark.parametrize("good", ["a", "x" * 64, "order 7 / line 3", "~!@#$%^&*()"])
def test_every_id_invoke_endpoint_takes_is_accepted(predict_proxy, stub, good):
    # GIVEN an X-Inference-Id at the edges of InvokeEndpoint's rule
    body = json.dumps({"instances": [RECORD]}).encode()
    expect_invoke(stub(predict_proxy.RUNTIME), body, {"predictions": [7]}, good)
    # WHEN posted THEN it is used as it came
    response = respond(predict_proxy, request({"instances": [RECORD]}, inference_id=good))
    assert (response["statusCode"], response["headers"]["X-Inference-Id"]) == (200, good)


def test_an_error_after_the_id_is_known_still_names_it(predict_proxy, stub):
    # GIVEN the endpoint missing
    stub(predict_proxy.RUNTIME).add_client_error(
        "invoke_endpoint", "ValidationError", "Endpoint demo-dev of account 1 not found.", 400
    )
    # WHEN posted THEN the 503 carries the request's id, to find it in the logs
    response = respond(predict_proxy, request({"instances": [RECORD]}))
    assert (response["statusCode"], response["headers"]["X-Inference-Id"]) == (503, INFERENCE_ID)
