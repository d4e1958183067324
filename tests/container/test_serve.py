"""The `serve` program against SageMaker's serving contract, run as a process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from tabular_container.predictor import Predictor
from tests.container.conftest import SERVE, Server, TrainRun, program_env

MAX_BODY = 6 * 1024 * 1024


@pytest.fixture(scope="module")
def test_rows(abalone_splits: Path) -> pd.DataFrame:
    """The held-out test split, target included, as the evaluation sends it."""
    return pd.read_csv(abalone_splits / "test" / "test.csv")


@pytest.fixture(scope="module")
def expected(trained: TrainRun, test_rows: pd.DataFrame) -> list[float]:
    """In-process predictions of the same model on the test split."""
    predictor = Predictor.load(trained.base / "model")
    rows = test_rows[list(predictor.schema.names)].to_numpy(dtype=object)
    return predictor.predict(rows)


def invoke(server: Server, body: bytes | str, content_type: str, accept: str | None = None):
    headers = {"Content-Type": content_type}
    if accept is not None:
        headers["Accept"] = accept
    return requests.post(f"{server.url}/invocations", data=body, headers=headers, timeout=30)


def test_ping_is_200_once_the_model_is_loaded(server: Server):
    response = server.ping()

    assert response is not None
    assert response.status_code == 200


def test_the_test_file_as_it_is_gives_the_in_process_predictions(server, abalone_splits, expected):
    # GIVEN the test split's bytes, header and target column included, as EvaluateModel sends them
    response = invoke(server, (abalone_splits / "test" / "test.csv").read_bytes(), "text/csv")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["predictions"] == pytest.approx(expected, rel=1e-9)
    # AND a serve not told its model's name sends no CustomAttributes
    assert "X-Amzn-SageMaker-Custom-Attributes" not in response.headers


def test_csv_without_header_is_in_schema_order(server, test_rows, expected):
    features = test_rows.drop(columns="rings")

    response = invoke(server, features.to_csv(index=False, header=False), "text/csv")

    assert response.json()["predictions"] == pytest.approx(expected, rel=1e-9)


def test_json_instances_give_the_same_predictions(server, test_rows, expected):
    body = json.dumps({"instances": test_rows.to_dict(orient="records")})

    response = invoke(server, body, "application/json")

    assert response.status_code == 200
    assert response.json()["predictions"] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("accept", ["text/csv", "text/csv; charset=utf-8"])
def test_csv_out_per_accept(server, test_rows, expected, accept):
    first = test_rows.iloc[:3].to_dict(orient="records")

    response = invoke(server, json.dumps({"instances": first}), "application/json", accept)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv"
    values = [float(line) for line in response.text.splitlines()]
    assert values == pytest.approx(expected[:3], rel=1e-9)


def test_any_accept_gets_json(server, test_rows):
    response = invoke(server, test_rows.iloc[:1].to_csv(index=False), "text/csv", "*/*")

    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 1


ONE = {
    "sex": "M",
    "length": 0.455,
    "diameter": 0.365,
    "height": 0.095,
    "whole_weight": 0.514,
    "shucked_weight": 0.2245,
    "viscera_weight": 0.101,
    "shell_weight": 0.15,
}
ONE_ROW = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15\n"


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "message"),
    [
        (
            json.dumps({"instances": [{k: v for k, v in ONE.items() if k != "height"}]}),
            "application/json",
            None,
            400,
            "instances[0] lacks column(s): height",
        ),
        (
            json.dumps({"instances": [ONE, {**ONE, "colour": "red"}]}),
            "application/json",
            None,
            400,
            "instances[1] has unknown column(s): colour",
        ),
        (
            ONE_ROW + ONE_ROW.replace("0.514", "heavy"),
            "text/csv",
            None,
            400,
            "row 2, column whole_weight: 'heavy' is not a finite number",
        ),
        ("", "text/csv", None, 400, "request body is empty"),
        ('{"instances": [', "application/json", None, 400, "malformed JSON"),
        ('M,"0.455,0.365\n', "text/csv", None, 400, "malformed CSV"),
        ("M,0.455\n", "text/csv", None, 400, "row 1 has 2 fields, expected 8"),
        (ONE_ROW, "application/x-www-form-urlencoded", None, 415, "is not supported"),
        (ONE_ROW, "text/csv", "application/xml", 406, "cannot answer in application/xml"),
        ("x" * (MAX_BODY + 1), "text/csv", None, 413, "over 6291456 bytes"),
    ],
)
def test_bad_requests_get_a_4xx_json_message(server, body, content_type, accept, status, message):
    response = invoke(server, body, content_type, accept)

    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert message in response.json()["error"]
    assert "Traceback" not in response.text


def test_other_paths_and_methods_are_refused(server: Server):
    assert requests.get(f"{server.url}/", timeout=5).status_code == 404
    wrong_method = requests.get(f"{server.url}/invocations", timeout=5)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "POST"


def test_without_a_model_serve_exits_at_once_saying_why(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, str(SERVE)],
        env=program_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert done.returncode == 1
    assert "no model to serve in" in done.stderr
    assert "model.joblib, metadata.json missing" in done.stderr


def test_serve_names_its_model_from_the_environment(
    trained: TrainRun, start_server, monkeypatch: pytest.MonkeyPatch
):
    # GIVEN serve started with the model's name, as DeployModel sets it
    monkeypatch.setenv("SERVED_MODEL_NAME", "demo-prod-20250102-031000-beef")
    server = start_server(trained.base, workers=1)
    server.wait_for_status(200)

    response = invoke(server, ONE_ROW, "text/csv")

    # THEN each answer carries it where SageMaker passes it back to the caller
    assert response.status_code == 200
    assert (
        response.headers["X-Amzn-SageMaker-Custom-Attributes"]
        == "model=demo-prod-20250102-031000-beef"
    )


@pytest.mark.parametrize("name", ["two words", "-leading-hyphen", "x" * 64, "née"])
def test_a_name_sagemaker_would_refuse_stops_serve_at_once(trained: TrainRun, name: str):
    done = subprocess.run(
        [sys.executable, str(SERVE)],
        env=program_env(trained.base, SERVED_MODEL_NAME=name),
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert done.returncode == 1
    assert f"SERVED_MODEL_NAME={name!r} is not a SageMaker model name" in done.stderr


def test_a_model_that_cannot_load_keeps_ping_at_503(trained: TrainRun, start_server, tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "metadata.json").write_text((trained.base / "model" / "metadata.json").read_text())
    (model_dir / "model.joblib").write_bytes(b"not a pickle")
    server = start_server(tmp_path, workers=1)

    response = server.wait_for_status(503)

    assert "the model failed to load" in response.json()["error"]
    assert invoke(server, ONE_ROW, "text/csv").status_code == 503


def running(pid: int) -> bool:
    """Whether a process exists and is not a zombie (nothing may reap orphans here)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_sigterm_stops_the_server_and_its_workers_cleanly(trained: TrainRun, start_server):
    server = start_server(trained.base, workers=2)
    server.wait_for_status(200)
    pid = server.process.pid
    children = list(map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split()))

    exit_code, stderr = server.stop()

    assert exit_code == 0
    assert stderr.count("Finished server process") == 2
    assert len(children) >= 2
    deadline = time.monotonic() + 10  # multiprocessing's resource tracker leaves on EOF
    while any(running(child) for child in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [child for child in children if running(child)]
