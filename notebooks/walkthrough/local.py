"""The local cloud as the notebook's target: start one if none runs, connect to it, stop it.

The only helper that imports `localcloud`. Once connected, boto3 and the SageMaker SDK reach the
local services through the `AWS_ENDPOINT_URL*` variables: the cells make AWS's calls unchanged,
the pipeline's included (the local cloud serves CodePipeline's API).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from localcloud.client import STATE_DIR, read_connection
from localcloud.constants import GATEWAY_PORT
from localcloud.stacks import lambda_functions

from .connect import REPO_ROOT, Config, config_from_stacks

DEFAULT_DIST = REPO_ROOT / "dist" / "lambdas"
LOCAL_POLL_SECONDS = 0.5  # a local run takes about a minute

# Local clouds this kernel started, by pid: running the connect cell again must not forget them.
_STARTED_HERE: set[int] = set()


def local_settings() -> tuple[Path, Path, int]:
    """State folder, Lambda zips folder and API port of the local cloud; tests override them."""
    return (
        Path(os.environ.get("LOCALCLOUD_STATE_DIR") or STATE_DIR),
        Path(os.environ.get("LOCALCLOUD_DIST") or DEFAULT_DIST),
        int(os.environ.get("LOCALCLOUD_PORT") or GATEWAY_PORT),
    )


def localcloud_command(state_dir: Path, dist: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m localcloud ...` on the given state folder, as a user would type it."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "localcloud",
            "--state-dir",
            str(state_dir),
            "--dist",
            str(dist),
            *args,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def ensure_lambda_zips(dist: Path) -> None:
    """Build the Lambda zips (`make package`) when some are missing: the local cloud needs them."""
    if all((dist / f"{folder}.zip").is_file() for folder in lambda_functions()):
        return
    print(f"Packaging the Lambda functions into {dist} (what `make package` does) ...")
    packager = REPO_ROOT / "scripts" / "package_lambdas.py"
    subprocess.run(
        [sys.executable, str(packager), "--out", str(dist)], capture_output=True, check=True
    )


@dataclass
class LocalCloudOwner:
    """The last cell locally: `down` if this kernel started the cloud, else leave it up."""

    connection: dict[str, Any]
    state_dir: Path
    dist: Path

    @property
    def started_here(self) -> bool:
        """Whether this kernel started the cloud (then the last cell stops it)."""
        return self.connection["pid"] in _STARTED_HERE

    def clean_up(self, confirm_destroy: bool) -> None:
        """Stop the cloud if this kernel started it; leave one started elsewhere running."""
        if not self.started_here:
            print("The local cloud was running before this notebook: left up (`make down`).")
            return
        result = localcloud_command(self.state_dir, self.dist, "down")
        print((result.stdout + result.stderr).strip())
        if result.returncode != 0:
            raise RuntimeError("`python -m localcloud down` failed")


def connect_local() -> Config:
    """Use the running local cloud, or start one (and remember to stop it at the end)."""
    state_dir, dist, port = local_settings()
    connection = read_connection(state_dir)
    if connection is None:
        ensure_lambda_zips(dist)
        print(f"No local cloud is running: starting one on port {port} ...")
        result = localcloud_command(state_dir, dist, "start", "--port", str(port))
        connection = read_connection(state_dir)
        if result.returncode != 0 or connection is None:
            raise RuntimeError(f"the local cloud did not start:\n{result.stderr or result.stdout}")
        _STARTED_HERE.add(connection["pid"])
        print(f"Started (pid {connection['pid']}); the last cell stops it.")
    else:
        print(f"Using the local cloud that is already running (pid {connection['pid']}).")
    # boto3 and the SageMaker SDK find the local services through AWS_ENDPOINT_URL* variables.
    os.environ.update(connection["environment"])
    session = boto3.Session(
        aws_access_key_id=connection["aws_access_key_id"],
        aws_secret_access_key=connection["aws_secret_access_key"],
        region_name=connection["region"],
    )
    stacks = connection["stacks"]
    return config_from_stacks(
        "local",
        session,
        (stacks["prep"], stacks["pipeline"]),
        (f"{connection['api_url']}/dev/predict", f"{connection['api_url']}/prod/predict"),
        connection["api_key"],
        state_dir / "notebook",
        LOCAL_POLL_SECONDS,
        LocalCloudOwner(connection, state_dir, dist).clean_up,
    )
