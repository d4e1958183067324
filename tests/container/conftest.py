"""Run the real `train` and `serve` programs as processes against temporary base directories."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from localcloud.background import free_port
from tests.conftest import REPO_ROOT

MODEL_CODE = REPO_ROOT / "model-code"
TRAIN = MODEL_CODE / "bin" / "train"
SERVE = MODEL_CODE / "bin" / "serve"
CHANNEL_CONFIG = {"ContentType": "text/csv", "TrainingInputMode": "File"}


def program_env(base: Path, **extra: str) -> dict[str, str]:
    """The environment the local SageMaker gives the programs (docs/design.md)."""
    return {
        **os.environ,
        "SAGEMAKER_BASE_DIR": str(base),
        "PYTHONPATH": str(MODEL_CODE / "src"),
        "MODEL_SERVER_HOST": "127.0.0.1",
        **extra,
    }


def make_job(
    base: Path,
    splits: Path,
    hyperparameters: dict[str, str] | None = None,
    channels: tuple[str, ...] = ("train", "validation"),
) -> Path:
    """A SageMaker-shaped base directory: config files and the named channels from splits."""
    config = base / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters or {}))
    channel_config = dict.fromkeys(channels, CHANNEL_CONFIG)
    (config / "inputdataconfig.json").write_text(json.dumps(channel_config))
    for channel in channels:
        folder = base / "input" / "data" / channel
        folder.mkdir(parents=True)
        shutil.copy(splits / channel / f"{channel}.csv", folder)
    return base


def jittered_rows(splits: Path, rows: int) -> pd.DataFrame:
    """The train split resampled to `rows` rows, its measurements jittered by about 1%."""
    frame = pd.read_csv(splits / "train" / "train.csv")
    random = np.random.default_rng(0)
    sample = frame.iloc[random.integers(0, len(frame), rows)].reset_index(drop=True)
    measures = sample.columns[1:-1]
    sample[measures] = (sample[measures] * random.normal(1, 0.01, (rows, len(measures)))).round(3)
    return sample


def start_train(base: Path) -> subprocess.Popen[str]:
    """`train` as SageMaker runs it, minus Docker."""
    return subprocess.Popen(
        [sys.executable, str(TRAIN)],
        env=program_env(base),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@dataclass(frozen=True)
class TrainRun:
    """A finished `train` process and the base directory it worked in."""

    base: Path
    returncode: int
    stdout: str
    stderr: str

    @property
    def failure(self) -> str:
        """Content of output/failure."""
        return (self.base / "output" / "failure").read_text()


def finish(base: Path, process: subprocess.Popen[str], timeout: float = 120) -> TrainRun:
    """Wait for a train process and collect what it left."""
    stdout, stderr = process.communicate(timeout=timeout)
    return TrainRun(base, process.returncode, stdout, stderr)


# Runs a command and writes the peak RSS (KiB) of its process to a file. The figure comes from
# the kernel (rusage), and this small parent keeps the count honest: a child's peak starts from
# its parent's at fork (vfork shares it until exec), so a large parent would inflate it.
PEAK_RSS = """
import os, resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
if code < 0:
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


def train_measured(base: Path, timeout: float = 120) -> tuple[TrainRun, int]:
    """Run `train` to the end: what it left, and its peak resident memory in bytes."""
    with tempfile.TemporaryDirectory(prefix="peak-rss-") as scratch:
        peak = Path(scratch) / "kib"
        process = subprocess.Popen(
            [sys.executable, "-c", PEAK_RSS, str(peak), sys.executable, str(TRAIN)],
            env=program_env(base),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        run = finish(base, process, timeout)
        return run, int(peak.read_text()) * 1024


@pytest.fixture(scope="session")
def trained(abalone_splits: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainRun:
    """One good training run with default hyperparameters on the abalone splits."""
    base = make_job(tmp_path_factory.mktemp("train-ok"), abalone_splits)
    return finish(base, start_train(base))


@dataclass
class Server:
    """A running `serve` process and its URL."""

    process: subprocess.Popen[str]
    url: str

    def ping(self) -> requests.Response | None:
        """GET /ping, or None while nothing listens yet."""
        try:
            return requests.get(f"{self.url}/ping", timeout=2)
        except requests.ConnectionError:
            return None

    def wait_for_status(self, status: int, deadline: float = 60.0) -> requests.Response:
        """Poll /ping until it answers with status (the process must stay up meanwhile)."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            assert self.process.poll() is None, self.process.communicate()
            response = self.ping()
            if response is not None and response.status_code == status:
                return response
            time.sleep(0.05)
        raise AssertionError(f"/ping never answered {status}")

    def stop(self) -> tuple[int, str]:
        """SIGTERM, as SageMaker stops a container; returns exit code and stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        _, stderr = self.process.communicate(timeout=30)
        return self.process.returncode, stderr


@pytest.fixture(scope="session")
def start_server() -> Iterator:
    """Factory of `serve` processes on a base directory; all are stopped at the end."""
    started: list[Server] = []

    def start(base: Path, workers: int = 2) -> Server:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, str(SERVE)],
            env=program_env(
                base,
                SAGEMAKER_BIND_TO_PORT=str(port),
                SAGEMAKER_MODEL_SERVER_WORKERS=str(workers),
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        server = Server(process, f"http://127.0.0.1:{port}")
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.stop()


@pytest.fixture(scope="session")
def server(trained: TrainRun, start_server) -> Server:
    """`serve` with two workers on the trained model, once /ping says it is ready."""
    assert trained.returncode == 0, trained.stderr
    running = start_server(trained.base)
    running.wait_for_status(200)
    return running
