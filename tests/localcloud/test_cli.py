"""`python -m localcloud` as a user runs it: up, request, retrain, down, and how it refuses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from localcloud.cloud import free_port
from tests.conftest import REPO_ROOT

RECORD = {
    "sex": "F",
    "length": 0.53,
    "diameter": 0.42,
    "height": 0.135,
    "whole_weight": 0.677,
    "shucked_weight": 0.2565,
    "viscera_weight": 0.1415,
    "shell_weight": 0.21,
}


def localcloud(
    state_dir: Path, dist: Path, *args: str, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(sys.executable, "-m", "localcloud"),
            *("--state-dir", str(state_dir), "--dist", str(dist), *args),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line or environment names `text` (our state folder)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            blob = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
            status = (proc / "status").read_text()
        except OSError:
            continue
        if text.encode() in blob and "State:\tZ" not in status:
            found.append(int(proc.name))
    return found


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_up_serves_predictions_run_retrains_and_down_leaves_nothing(
    tmp_path: Path, lambda_zips: Path
) -> None:
    state, port = tmp_path / ".localcloud", free_port()
    try:
        # WHEN a user brings the cloud up without a terminal to answer the approval at
        up = localcloud(state, lambda_zips, "up", "--port", str(port))
        assert up.returncode == 0, up.stdout + up.stderr
        connection = json.loads((state / "connection.json").read_text())
        # THEN it printed how to connect, and left the run waiting for approval, saying how
        assert f"http://127.0.0.1:{port}/prod/predict" in up.stdout
        assert connection["api_key"] in up.stdout
        assert "curl -s -X POST" in up.stdout
        assert "Approve/ApproveProd waits for approval" in up.stdout
        waiting = localcloud(state, lambda_zips, "status")
        assert "Waiting for approval" in waiting.stdout
        # WHEN the user approves
        approve = localcloud(state, lambda_zips, "approve", "--comment", "looks good")
        assert (approve.returncode, approve.stdout.strip()) == (0, "Approved.")
        # THEN the run deploys prod, which answers with the printed key as curl would ask
        deadline = time.monotonic() + 60
        while "succeeded" not in localcloud(state, lambda_zips, "status").stdout:
            assert time.monotonic() < deadline, "the run did not finish after approval"
            time.sleep(1)
        url = f"{connection['api_url']}/prod/predict"
        answer = requests.post(
            url,
            json={"instances": [RECORD]},
            headers={"x-api-key": connection["api_key"]},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        first_model = answer.json()["model"]
        # AND nothing waits for approval any more, so `approve` says so
        approve = localcloud(state, lambda_zips, "approve")
        assert approve.returncode == 1
        assert "no approval is waiting" in approve.stderr
        # WHEN the user retrains in the running cloud
        rerun = localcloud(state, lambda_zips, "run", "--auto-approve")
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        # THEN prod answers with the new model (the proxy may name the old one for 5 s more)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            answer = requests.post(
                url,
                json={"instances": [RECORD]},
                headers={"x-api-key": connection["api_key"]},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            if answer.json()["model"] != first_model:
                break
            time.sleep(0.5)
        assert answer.json()["model"] != first_model
        # AND status shows the run
        status = localcloud(state, lambda_zips, "status")
        assert f"up, pid {connection['pid']}" in status.stdout
        assert "succeeded" in status.stdout
        logs = localcloud(state, lambda_zips, "logs", "training-jobs")
        assert "validation:mse=" in logs.stdout
    finally:
        down = localcloud(state, lambda_zips, "down")
    # THEN down stopped every process it started and freed the port
    assert down.returncode == 0
    assert "Stopped the local cloud" in down.stdout
    assert not (state / "connection.json").exists()
    deadline = time.monotonic() + 10
    while processes_mentioning(str(state)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(state)) == []
    assert port_is_free(port)


def test_a_port_in_use_is_named_and_nothing_starts(tmp_path: Path, lambda_zips: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = localcloud(tmp_path / "state", lambda_zips, "demo", "--port", str(port))
    assert result.returncode == 1
    assert f"port {port} (the local API gateway) is already in use" in result.stderr
    assert processes_mentioning(str(tmp_path / "state")) == []


def test_missing_lambda_zips_point_to_make_package(tmp_path: Path) -> None:
    state, empty = tmp_path / "state", tmp_path / "empty"
    empty.mkdir()
    result = localcloud(state, empty, "demo", "--port", str(free_port()))
    assert result.returncode == 1
    assert "run `make package` first" in result.stderr
    assert processes_mentioning(str(state)) == []


@pytest.mark.parametrize("command", ["status", "down"])
def test_a_leftover_connection_from_a_killed_cloud_is_cleared(
    tmp_path: Path, lambda_zips: Path, command: str
) -> None:
    # GIVEN the connection file of a cloud that was killed (its pid is gone)
    state = tmp_path / "state"
    state.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (state / "connection.json").write_text(json.dumps({"pid": int(dead.stdout)}))
    # WHEN the user asks for status or down
    result = localcloud(state, lambda_zips, command)
    # THEN the file is removed with a word about it, and the cloud is reported down
    assert result.returncode == 0
    assert "left by a local cloud that is no longer running" in result.stdout
    assert not (state / "connection.json").exists()
