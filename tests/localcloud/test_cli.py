"""`python -m localcloud` as a user runs it: up, request, retrain, down, and how it refuses."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from localcloud.background import free_port
from localcloud.processes import ProcessRegistry
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
            *args[:1],
            *("--state-dir", str(state_dir), "--dist", str(dist), *args[1:]),
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

        def ask_prod() -> requests.Response:
            answer = requests.post(
                url,
                json={"instances": [RECORD]},
                headers={"x-api-key": connection["api_key"]},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            return answer

        first_model = ask_prod().json()["model"]
        # AND nothing waits for approval any more, so `approve` says so
        approve = localcloud(state, lambda_zips, "approve")
        assert approve.returncode == 1
        assert "no approval is waiting" in approve.stderr
        # WHEN the user retrains in the running cloud
        rerun = localcloud(state, lambda_zips, "run", "--auto-approve")
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        # THEN the very next answer from prod names the new model
        assert ask_prod().json()["model"] != first_model
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


def _dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(dead.stdout)


def test_a_cloud_killed_mid_run_takes_its_processes_and_down_says_what_happened(
    tmp_path: Path, lambda_zips: Path
) -> None:
    # GIVEN a cloud whose run waits for approval, with the dev endpoint serving
    state, port = tmp_path / ".localcloud", free_port()
    up = localcloud(state, lambda_zips, "up", "--port", str(port))
    assert up.returncode == 0, up.stdout + up.stderr
    connection = json.loads((state / "connection.json").read_text())
    assert oct((state / "connection.json").stat().st_mode & 0o777) == "0o600"
    serving = processes_mentioning(str(state / "sagemaker" / "endpoints"))
    assert serving
    try:
        # WHEN the cloud process is SIGKILLed
        os.kill(connection["pid"], signal.SIGKILL)
        # THEN what it started dies with it, and its ports are freed, before anyone cleans up
        deadline = time.monotonic() + 10
        while processes_mentioning(str(state)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert processes_mentioning(str(state)) == []
        assert port_is_free(port)
        # AND status says the cloud died and when, and that its run was cut short
        status = localcloud(state, lambda_zips, "status")
        assert "Local cloud: down" in status.stdout
        assert f"pid {connection['pid']}" in status.stdout
        assert re.search(
            r"died unexpectedly; it was last seen alive at \d\d:\d\d:\d\d", status.stdout
        )
        assert "interrupted" in status.stdout
        # WHEN the user runs down
        down = localcloud(state, lambda_zips, "down")
        # THEN it cleans up, saying the run was interrupted, and the report keeps its stages
        assert down.returncode == 0
        assert "died unexpectedly" in down.stdout
        assert "as interrupted" in down.stdout
        assert not (state / "connection.json").exists()
        report = json.loads((state / "runs" / "latest.json").read_text())
        assert report["status"] == "Interrupted"
        stages = {stage["name"]: stage["status"] for stage in report["stages"]}
        assert stages["Train"] == stages["DeployDev"] == "Succeeded"
        assert stages["Approve"] == "Interrupted"
    finally:
        localcloud(state, lambda_zips, "down")


def test_down_stops_what_a_dead_cloud_left_running_and_says_so(
    tmp_path: Path, lambda_zips: Path
) -> None:
    # GIVEN a process a dead cloud recorded as its own, still running
    state = tmp_path / "state"
    leftover = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        ProcessRegistry(state).add(leftover.pid, "training job abalone-1", ["sleep"], group=True)
        record = state / "processes" / f"{leftover.pid}.json"
        document = json.loads(record.read_text())
        record.write_text(json.dumps({**document, "cloud_pid": _dead_pid()}))
        # WHEN the user runs down
        down = localcloud(state, lambda_zips, "down")
        # THEN down stops it, and names it
        assert down.returncode == 0
        assert f"training job abalone-1 (pid {leftover.pid})" in down.stdout
        assert leftover.wait(timeout=5) == -signal.SIGKILL
        assert not record.exists()
    finally:
        leftover.kill()
        leftover.wait()


@pytest.mark.parametrize("command", ["status", "down"])
def test_a_leftover_connection_from_a_killed_cloud_is_reported(
    tmp_path: Path, lambda_zips: Path, command: str
) -> None:
    # GIVEN the connection file of a cloud that was killed (its pid is gone)
    state = tmp_path / "state"
    state.mkdir()
    pid = _dead_pid()
    (state / "connection.json").write_text(json.dumps({"pid": pid, "started": time.time()}))
    # WHEN the user asks for status or down
    result = localcloud(state, lambda_zips, command)
    # THEN the cloud is reported dead; down also clears the file, status leaves it
    assert result.returncode == 0
    assert f"The local cloud (pid {pid}, up since" in result.stdout
    assert "died unexpectedly" in result.stdout
    assert (state / "connection.json").exists() == (command == "status")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["start", "--port", "-1"], "argument --port: -1 is not a port number (1-65535)"),
        (["start", "--port", "0"], "argument --port: 0 is not a port number (1-65535)"),
        (["up", "--port", "99999"], "argument --port: 99999 is not a port number (1-65535)"),
        (["demo", "--port", "web"], "argument --port: 'web' is not a port number (1-65535)"),
        (["logs", "--lines", "0"], "argument --lines: 0 is not 1 or more"),
    ],
)
def test_bad_arguments_get_one_line_errors(
    tmp_path: Path, lambda_zips: Path, args: list[str], error: str
) -> None:
    result = localcloud(tmp_path / "state", lambda_zips, *args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith(error)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["demo", "up", "start", "run", "down", "status", "logs"])
def test_state_dir_is_an_option_of_every_command(command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "localcloud", command, "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--state-dir STATE_DIR" in result.stdout
