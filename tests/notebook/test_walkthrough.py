"""The walkthrough notebook runs headlessly against a local cloud it starts, and stops it after."""

from __future__ import annotations

import base64
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from localcloud.background import free_port
from localcloud.stacks import lambda_functions
from notebooks.walkthrough.monitoring import ALARM_WAIT_SECONDS
from tests.conftest import REPO_ROOT
from tests.localcloud.test_cli import localcloud, port_is_free, processes_mentioning

NOTEBOOK = REPO_ROOT / "notebooks" / "walkthrough.ipynb"
KERNEL_NAME = "walkthrough-test"
CELL_TIMEOUT_SECONDS = 180
# The drift alarm's cell waits up to ALARM_WAIT_SECONDS itself: its own error must come first.
ALARM_CELL_TIMEOUT_SECONDS = int(ALARM_WAIT_SECONDS) + 60
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_notebook() -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK, as_version=4)


def outputs_of(notebook: nbformat.NotebookNode, cell_id: str) -> list[dict[str, Any]]:
    (cell,) = (c for c in notebook.cells if c.get("id") == cell_id)
    return list(cell.outputs)


def data_of(notebook: nbformat.NotebookNode, cell_id: str, mime: str) -> list[Any]:
    return [o["data"][mime] for o in outputs_of(notebook, cell_id) if mime in o.get("data", {})]


def text_of(notebook: nbformat.NotebookNode, cell_id: str) -> str:
    outputs = outputs_of(notebook, cell_id)
    return "".join(o.get("text", "") for o in outputs) + "".join(
        o["data"].get("text/plain", "") for o in outputs if "data" in o
    )


def cell_timeout(cell: nbformat.NotebookNode) -> int:
    return (
        ALARM_CELL_TIMEOUT_SECONDS if cell.get("id") == "monitoring-alarm" else CELL_TIMEOUT_SECONDS
    )


def install_kernel(jupyter_dir: Path) -> None:
    """A kernel spec running this very interpreter (the project's virtualenv), found first."""
    spec = jupyter_dir / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "walkthrough test",
                "language": "python",
            }
        )
    )


@pytest.mark.e2e
@pytest.mark.timeout(600)  # the whole walkthrough, three prod rollouts among it
def test_the_notebook_runs_end_to_end_and_stops_the_cloud_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN no local cloud in a fresh state folder, no Lambda zips yet, a free port
    state, dist, port = tmp_path / "state", tmp_path / "dist" / "lambdas", free_port()
    install_kernel(tmp_path / "jupyter")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("LOCALCLOUD_STATE_DIR", str(state))
    monkeypatch.setenv("LOCALCLOUD_DIST", str(dist))
    monkeypatch.setenv("LOCALCLOUD_PORT", str(port))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend draws the plots
    notebook = read_notebook()
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL_NAME,
        timeout_func=cell_timeout,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    # WHEN it is executed top to bottom (any cell error raises CellExecutionError)
    try:
        client.execute()
    except BaseException:
        # The cloud's own log (its warnings and errors) says why a cell waited in vain.
        log = state / "cloud.log"
        print(log.read_text(errors="replace")[-20_000:] if log.exists() else "no cloud.log")
        raise
    finally:
        left_running = (state / "connection.json").exists()
        localcloud(state, dist, "down")  # the safety net; the notebook should have done it
    # THEN it packaged the zips, started a cloud, and its last cell stopped it again
    assert all((dist / f"{folder}.zip").is_file() for folder in lambda_functions())
    assert "starting one" in text_of(notebook, "connect")
    assert not left_running
    assert "Stopped the local cloud" in text_of(notebook, "clean-up")
    deadline = time.monotonic() + 10
    while processes_mentioning(str(state)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(state)) == []
    assert port_is_free(port)
    # AND the pipeline stopped at the approval, then succeeded once approved
    assert "waiting for approval" in "".join(data_of(notebook, "pipeline", "text/html"))
    assert "'Succeeded'" in text_of(notebook, "approve")
    # AND the evaluation has every metric, under the threshold, and the gate passed
    (evaluation,) = data_of(notebook, "evaluation", "application/json")
    assert set(evaluation["metrics"]) == {"mse", "rmse", "mae", "r2"}
    assert evaluation["metrics"]["mse"] <= evaluation["threshold"]
    assert evaluation["passed"] is True
    # AND the API and the direct calls answered with numbers
    (answer,) = data_of(notebook, "api-call", "application/json")
    assert len(answer["predictions"]) == 5
    assert all(isinstance(p, int | float) for p in answer["predictions"])
    assert "curl -s -X POST" in text_of(notebook, "curl")
    assert "x-api-key" in text_of(notebook, "curl")
    for cell_id in ("invoke-endpoint", "sdk-predictor"):
        predictions = re.findall(r"[-+]?\d+\.\d+", text_of(notebook, cell_id))
        assert len(predictions) == 5, cell_id
    whole = re.search(r"(\d+) test records: MSE ([\d.]+)", text_of(notebook, "predict-all"))
    assert whole is not None
    assert int(whole[1]) > 600
    assert float(whole[2]) <= evaluation["threshold"]
    # AND the test split, uploaded to batch/input/ as one file, was scored by a transform job
    # with prod's model: one prediction per record, as good as the endpoint's
    assert "/batch/input/walkthrough.csv" in text_of(notebook, "batch-upload")
    assert "Completed" in "".join(data_of(notebook, "batch-watch", "text/html"))
    batch = re.search(
        r"(\d+) batch predictions for (\d+) records: MSE ([\d.]+)", text_of(notebook, "batch-plot")
    )
    assert batch is not None and batch[1] == batch[2] == whole[1]
    assert float(batch[3]) == pytest.approx(float(whole[2]), abs=1e-6)
    # AND the registry shows the run's version Approved and in prod, with its reports
    first_table = text_of(notebook, "registry-table")
    assert re.search(r"^1\s+Approved\s.*◀ prod", first_table, re.M), first_table
    # AND a second approved run put version 2 in prod; rejecting it brought version 1 back
    second_table = text_of(notebook, "second-version")
    assert re.search(r"^2\s+Approved\s.*◀ prod", second_table, re.M), second_table
    rollback = text_of(notebook, "rollback")
    assert "is InService on version 1" in rollback
    assert re.search(r"^2\s+Rejected\s", rollback, re.M), rollback
    assert re.search(r"^1\s+Approved\s.*◀ prod", rollback, re.M), rollback
    # AND prod's two hourly schedules were shown, clean traffic completed both jobs, and the
    # drifted slice's violations name the shell weight
    schedules = text_of(notebook, "monitoring-schedules")
    assert "data-quality-v000001" in schedules and "model-quality-v000001" in schedules
    assert "300 predictions captured, 150 of them labelled" in text_of(
        notebook, "monitoring-traffic"
    )
    clean = text_of(notebook, "monitoring-clean")
    assert re.search(r"^data-quality\s+Completed\s*$", clean, re.M), clean
    assert re.search(r"^model-quality\s+Completed", clean, re.M), clean
    drift = text_of(notebook, "monitoring-drift")
    assert re.search(r"shell_weight\s+baseline_drift_check", drift), drift
    # AND the drift alarm went to ALARM and started a retraining run, which the cell stopped
    alarm = text_of(notebook, "monitoring-alarm")
    assert "-prod-data-drift: ALARM" in alarm and "started by the alarm's event" in alarm
    assert "stopped " in alarm
    # AND the plots were rendered as PNG images
    for cell_id in (
        "data-plot",
        "residual-plot",
        "batch-plot",
        "registry-reports",
        "monitoring-drift-plot",
        "monitoring-quality-plot",
    ):
        (image,) = data_of(notebook, cell_id, "image/png")
        assert base64.b64decode(image).startswith(PNG_SIGNATURE), cell_id


def test_the_committed_notebook_has_no_outputs_and_names_nothing_deployed() -> None:
    notebook = read_notebook()
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [], f"cell {cell.id} has outputs: clear them before committing"
        assert cell.execution_count is None, f"cell {cell.id} has an execution count"
    (config,) = (cell for cell in code if cell.id == "config")
    assert 'TARGET = "local"' in config.source
    source = "\n".join(cell.source for cell in notebook.cells)
    for deployed in ("us-east-1", "123456789012", "amazonaws.com", "abalone-", "127.0.0.1"):
        assert deployed not in source, f"the notebook hard-codes {deployed!r}"
