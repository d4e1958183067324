"""The ASGI app, driven in memory: statuses, messages and bodies for every kind of request."""

from __future__ import annotations

import asyncio
import json
import re

import numpy as np
import pytest

from tabular_container.environment import ExecutionParameters
from tabular_container.numerals import PLAIN
from tabular_container.predictor import Predictor
from tabular_container.server import InferenceApp, create_app

CSV_ROWS = b"M,0.455,0.514\nI,0.3,0.2\n"
ROW = {"sex": "M", "length": 0.455, "weight": 0.514}
MIB = 1024 * 1024
CSV = [("content-type", "text/csv")]
# A number near the float limit overflows in the model's arithmetic, as numpy warns.
OVERFLOWS = pytest.mark.filterwarnings("ignore::RuntimeWarning")


async def start(app: InferenceApp) -> asyncio.Task:
    """Run the lifespan start-up, as uvicorn does before it accepts connections."""
    events = asyncio.Queue()
    await events.put({"type": "lifespan.startup"})
    done = asyncio.Event()

    async def send(message):
        if message["type"] == "lifespan.startup.complete":
            done.set()

    task = asyncio.get_running_loop().create_task(app({"type": "lifespan"}, events.get, send))
    await done.wait()
    return task


async def request(app, method, path, body=b"", headers=(), chunks=None, disconnect=False):
    """One HTTP exchange; returns (status, headers, body), or None when nothing was sent."""
    parts = list(chunks) if chunks is not None else [body]
    messages = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]
    if disconnect:
        messages = [{"type": "http.disconnect"}]
    sent = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(name.encode(), value.encode()) for name, value in headers],
    }
    await app(scope, receive, send)
    if not sent:
        return None
    return sent[0]["status"], dict(sent[0]["headers"]), sent[1]["body"]


async def loaded_app(predictor, **kwargs) -> InferenceApp:
    app = InferenceApp(lambda: predictor, **kwargs)
    await start(app)
    return app


def invoke(predictor, body, content_type="text/csv", accept=None, **kwargs):
    async def scenario():
        app = await loaded_app(predictor, **kwargs)
        headers = [("content-type", content_type)] + ([("accept", accept)] if accept else [])
        return await request(app, "POST", "/invocations", body, headers)

    return asyncio.run(scenario())


def error_of(reply) -> str:
    _, headers, body = reply
    assert headers[b"content-type"] == b"application/json"
    return json.loads(body)["error"]


def test_ping_is_503_before_start_up_and_200_once_start_up_has_loaded_the_model(predictor):
    loads = []

    def load():
        loads.append(1)
        return predictor

    async def scenario():
        app = InferenceApp(load)
        before = await request(app, "GET", "/ping")
        invocation = await request(app, "POST", "/invocations", CSV_ROWS, CSV)
        await start(app)
        return before, invocation, await request(app, "GET", "/ping")

    before, invocation, after = asyncio.run(scenario())

    assert before[0] == 503
    assert error_of(before) == "the model is not loaded yet"
    assert invocation[0] == 503
    assert after[:1] == (200,)
    assert loads == [1]


def test_a_model_that_fails_to_load_keeps_ping_at_503_with_the_reason():
    def broken():
        raise ValueError("metadata.json is not format 1 metadata")

    async def scenario():
        app = InferenceApp(broken)
        await start(app)
        return await request(app, "GET", "/ping")

    reply = asyncio.run(scenario())

    assert reply[0] == 503
    assert "the model failed to load: ValueError: metadata.json is not format 1" in error_of(reply)


def test_csv_in_json_out_by_default(predictor):
    status, headers, body = invoke(predictor, CSV_ROWS)

    assert status == 200
    assert headers[b"content-type"] == b"application/json"
    expected = predictor.predict(np.array([["M", 0.455, 0.514], ["I", 0.3, 0.2]], dtype=object))
    assert json.loads(body) == {"predictions": pytest.approx(expected, rel=1e-12)}
    assert headers[b"content-length"] == str(len(body)).encode()


def test_json_in_csv_out(predictor):
    document = {"instances": [{"sex": "M", "length": 0.455, "weight": 0.514}]}

    status, headers, body = invoke(
        predictor, json.dumps(document).encode(), "application/json", accept="text/csv"
    )

    assert status == 200
    assert headers[b"content-type"] == b"text/csv"
    assert len(body.decode().splitlines()) == 1
    float(body)


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "message"),
    [
        (b"", "text/csv", None, 400, "request body is empty"),
        (b"  \n", "application/json", None, 400, "request body is empty"),
        (b"M,abc,1\n", "text/csv", None, 400, "row 1, column length: 'abc' is not"),
        (b"{", "application/json", None, 400, "malformed JSON"),
        (CSV_ROWS, "text/plain", None, 415, "Content-Type text/plain is not supported"),
        (CSV_ROWS, "text/csv", "application/xml", 406, "cannot answer in application/xml"),
        pytest.param(
            b"M,0.455,0.514\nI,1e308,0.2\n",
            "text/csv",
            None,
            400,
            "row 2: the model gives no finite prediction for these values",
            marks=OVERFLOWS,
        ),
        pytest.param(
            b'{"instances": [{"sex": "I", "length": 1e308, "weight": 0.2}]}',
            "application/json",
            None,
            400,
            "instances[0]: the model gives no finite prediction",
            marks=OVERFLOWS,
        ),
    ],
)
def test_bad_requests_get_their_status_and_a_json_message(
    predictor, body, content_type, accept, status, message
):
    reply = invoke(predictor, body, content_type, accept)

    assert reply[0] == status
    assert message in error_of(reply)


def test_a_declared_body_over_the_limit_is_413_before_reading_it(predictor):
    async def scenario():
        app = await loaded_app(predictor, max_body=100)
        headers = [("content-type", "text/csv"), ("content-length", "101")]
        return await request(app, "POST", "/invocations", b"", headers)

    reply = asyncio.run(scenario())

    assert reply[0] == 413
    assert "over 100 bytes" in error_of(reply)


def test_a_streamed_body_over_the_limit_is_413(predictor):
    async def scenario():
        app = await loaded_app(predictor, max_body=100)
        headers = [("content-type", "text/csv")]
        return await request(app, "POST", "/invocations", headers=headers, chunks=[b"x" * 60] * 2)

    assert asyncio.run(scenario())[0] == 413


def test_a_body_in_chunks_is_joined(predictor):
    async def scenario():
        app = await loaded_app(predictor)
        headers = [("content-type", "text/csv")]
        return await request(
            app, "POST", "/invocations", headers=headers, chunks=[b"M,0.4", b"55,0.514\n"]
        )

    status, _, body = asyncio.run(scenario())

    assert status == 200
    assert len(json.loads(body)["predictions"]) == 1


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("GET", "/", 404, "use GET /ping, GET /execution-parameters or POST /invocations"),
        ("GET", "/invocations", 405, "/invocations answers POST only"),
        ("POST", "/ping", 405, "/ping answers GET only"),
    ],
)
def test_other_routes_and_methods_are_refused(predictor, method, path, status, message):
    async def scenario():
        return await request(await loaded_app(predictor), method, path)

    reply = asyncio.run(scenario())

    assert reply[0] == status
    assert message in error_of(reply)
    if status == 405:
        assert reply[1][b"allow"] in (b"GET", b"POST")


def test_an_unexpected_failure_is_a_generic_500_without_a_stack_trace(predictor, monkeypatch):
    def explode(rows):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(predictor, "predict", explode)

    reply = invoke(predictor, CSV_ROWS)

    assert reply[0] == 500
    assert error_of(reply) == "internal server error"
    assert b"secret" not in reply[2]
    assert b"Traceback" not in reply[2]


def test_a_client_gone_mid_request_gets_no_answer(predictor):
    async def scenario():
        app = await loaded_app(predictor)
        headers = [("content-type", "text/csv")]
        return await request(app, "POST", "/invocations", headers=headers, disconnect=True)

    assert asyncio.run(scenario()) is None


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/invocations", CSV_ROWS, 200),
        ("POST", "/invocations", b"M,abc,1\n", 400),
        ("GET", "/ping", b"", 200),
        ("GET", "/nowhere", b"", 404),
    ],
)
def test_every_answer_names_the_model_in_custom_attributes(predictor, method, path, body, status):
    # GIVEN a server told its model's name WHEN asked anything
    async def scenario():
        app = await loaded_app(predictor, model_name="demo-dev-20250102-031000-beef")
        return await request(app, method, path, body, CSV)

    reply = asyncio.run(scenario())

    # THEN the answer says which model gave it, in the header SageMaker passes back
    assert reply[0] == status
    assert reply[1][b"x-amzn-sagemaker-custom-attributes"] == b"model=demo-dev-20250102-031000-beef"


def test_without_a_model_name_no_custom_attributes_are_sent(predictor):
    _, headers, _ = invoke(predictor, CSV_ROWS)

    assert b"x-amzn-sagemaker-custom-attributes" not in headers


def test_a_csv_header_naming_the_target_ignores_that_column(predictor):
    # GIVEN the same rows with and without the target column, which a test set carries
    with_target = b"rings,sex,length,weight\n9,M,0.455,0.514\n7,I,0.3,0.2\n"

    plain = invoke(predictor, CSV_ROWS)
    labelled = invoke(predictor, with_target)

    # THEN the predictions are the same: the target is not a feature
    assert labelled[0] == 200
    assert json.loads(labelled[2]) == json.loads(plain[2])


def test_execution_parameters_answer_the_settings_even_before_the_model_loads():
    async def scenario():
        app = InferenceApp(lambda: None, execution=ExecutionParameters(4, "SINGLE_RECORD", 20))
        return await request(app, "GET", "/execution-parameters")

    status, headers, body = asyncio.run(scenario())

    assert status == 200
    assert headers[b"content-type"] == b"application/json"
    assert json.loads(body) == {
        "MaxConcurrentTransforms": 4,
        "BatchStrategy": "SINGLE_RECORD",
        "MaxPayloadInMB": 20,
    }


def test_execution_parameters_answer_get_only(predictor):
    async def scenario():
        return await request(await loaded_app(predictor), "POST", "/execution-parameters")

    reply = asyncio.run(scenario())

    assert reply[0] == 405
    assert reply[1][b"allow"] == b"GET"
    assert error_of(reply) == "/execution-parameters answers GET only"


def served_from(monkeypatch, predictor, **variables) -> InferenceApp:
    """The app `serve` builds from these variables, its model the fixture's."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(Predictor, "load", staticmethod(lambda model_dir: predictor))
    return create_app()


def test_serve_answers_the_batch_variables_and_enforces_the_payload(monkeypatch, predictor):
    # GIVEN serve started by a transform job with 1 MB payloads
    app = served_from(
        monkeypatch,
        predictor,
        SAGEMAKER_BATCH="true",
        SAGEMAKER_MAX_PAYLOAD_IN_MB="1",
        SAGEMAKER_MAX_CONCURRENT_TRANSFORMS="3",
    )
    fits = b"\n" * (MIB - len(CSV_ROWS)) + CSV_ROWS  # empty lines are no records

    async def scenario():
        await start(app)
        parameters = await request(app, "GET", "/execution-parameters")
        at_limit = await request(app, "POST", "/invocations", fits, CSV)
        over = await request(app, "POST", "/invocations", fits + b"\n", CSV)
        return parameters, at_limit, over

    parameters, at_limit, over = asyncio.run(scenario())

    assert json.loads(parameters[2]) == {
        "MaxConcurrentTransforms": 3,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 1,
    }
    assert at_limit[0] == 200
    assert len(json.loads(at_limit[2])["predictions"]) == 2
    assert over[0] == 413
    assert error_of(over) == (
        f"request body is over {MIB} bytes (SageMaker's limit); send fewer rows"
    )


def test_outside_batch_mode_the_payload_variable_does_not_lift_six_mib(monkeypatch, predictor):
    app = served_from(monkeypatch, predictor, SAGEMAKER_MAX_PAYLOAD_IN_MB="100")

    async def scenario():
        await start(app)
        headers = [*CSV, ("content-length", str(6 * MIB + 1))]
        return (
            await request(app, "GET", "/execution-parameters"),
            await request(app, "POST", "/invocations", b"", headers),
        )

    parameters, over = asyncio.run(scenario())

    assert json.loads(parameters[2])["MaxPayloadInMB"] == 6
    assert over[0] == 413
    assert f"over {6 * MIB} bytes" in error_of(over)


@pytest.mark.parametrize(
    ("body", "content_type", "count"),
    [
        (CSV_ROWS, "text/csv", 2),
        (b"sex,length,weight\n" + CSV_ROWS + b"F,0.5,0.6\n", "text/csv", 3),
        (json.dumps({"instances": [ROW, ROW]}).encode(), "application/json", 2),
        (b"\n".join([json.dumps(ROW).encode()] * 4), "application/jsonlines", 4),
    ],
)
def test_single_record_refuses_a_body_of_several_records(predictor, body, content_type, count):
    single = ExecutionParameters(batch_strategy="SINGLE_RECORD")

    reply = invoke(predictor, body, content_type, execution=single)

    assert reply[0] == 400
    assert error_of(reply) == (
        f"SAGEMAKER_BATCH_STRATEGY is SINGLE_RECORD: send one record per request, not {count}"
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"M,0.455,0.514\n", "text/csv"),
        (b"rings,sex,length,weight\n\n9,M,0.455,0.514\n\n", "text/csv"),
        (json.dumps({"instances": [ROW]}).encode(), "application/json"),
        (b"\n" + json.dumps(ROW).encode() + b"\n\n", "application/jsonlines"),
    ],
)
def test_single_record_answers_one_record(predictor, body, content_type):
    single = ExecutionParameters(batch_strategy="SINGLE_RECORD")

    status, _, answer = invoke(predictor, body, content_type, execution=single)

    assert status == 200
    assert len(json.loads(answer)["predictions"]) == 1


def test_json_lines_in_and_out_one_line_a_record(predictor):
    # GIVEN records as JSON Lines, blank lines between, one carrying the target
    lines = [ROW, {**ROW, "sex": "I", "rings": 9}, {"sex": "F", "length": "0.3", "weight": None}]
    body = b"\n\n".join(json.dumps(line).encode() for line in lines) + b"\n  \n"

    status, headers, answer = invoke(
        predictor, body, "application/jsonlines", accept="application/jsonlines"
    )
    _, _, as_json = invoke(predictor, body, "application/jsonlines")

    # THEN one line per record, each {"prediction": value}, as the JSON answer's predictions
    assert status == 200
    assert headers[b"content-type"] == b"application/jsonlines"
    assert answer.endswith(b"\n")
    records = answer.decode().split("\n")[:-1]
    assert all(re.fullmatch(r'\{"prediction":[-0-9.e]+\}', record) for record in records)
    assert [json.loads(record)["prediction"] for record in records] == (
        json.loads(as_json)["predictions"]
    )
    assert len(records) == 3


@pytest.mark.parametrize(
    ("accept", "lines"),
    [("text/csv", 2), ("application/jsonlines", 2)],
)
def test_answers_for_batch_have_one_line_a_record(predictor, accept, lines):
    reply = invoke(predictor, b"\n" + CSV_ROWS + b"\n\n", accept=accept)

    assert reply[0] == 200
    assert reply[2].count(b"\n") == lines
    assert reply[2].endswith(b"\n")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"sex": "M", "length": 0.4, "weight": 0.5}\n\n{"sex": "M", "length": "abc", '
            b'"weight": 1}\n',
            f"line 2, column length: 'abc' is not a finite number ({PLAIN})",
        ),
        (
            b'{"sex": "M", "length": 0.4, "weight": 0.5}\n[1, 2, 3]\n',
            'line 2: must be an object of column: value, as in {"column": value, ...} on each line',
        ),
        (b'\n{"sex": "M", "length": 0.4}\n', "line 1: lacks column(s): weight"),
        (
            b'{"sex": "M", "length": 0.4, "weight": 0.5, "colour": "red"}',
            "line 1: has unknown column(s): colour; expected sex, length, weight",
        ),
        (
            b'{"sex": "M", "length": 0.4, "weight": {"a": 1}}',
            f"line 1, column weight: {{'a': 1}} is not a finite number ({PLAIN})",
        ),
        (
            b'{"sex": "M", "length": 0.4, "weight": 0.5}\n{"sex": "M"',
            "line 2: malformed JSON: Expecting ',' delimiter: line 1 column 12 (char 11)",
        ),
        pytest.param(
            b'{"sex": "M", "length": 0.4, "weight": 0.5}\n\n{"sex": "I", "length": 1e308, '
            b'"weight": 0.2}',
            "line 2: the model gives no finite prediction for these values; they are too far "
            "outside the training data",
            marks=OVERFLOWS,
        ),
    ],
)
def test_bad_json_lines_name_the_line(predictor, body, message):
    reply = invoke(predictor, body, "application/jsonlines")

    assert reply[0] == 400
    assert error_of(reply) == message
