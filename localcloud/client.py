"""Reach a running local cloud (`make up`) from the CLI, the notebook or a test, without its server.

The background cloud writes `.localcloud/connection.json` (mode 0600): endpoint URLs, the
credentials every local service checks requests against, and the API key. Clients then call
the services as they would AWS's (pipeline runs: CodePipeline's own API).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import boto3
import psutil

from localcloud.constants import REPO_ROOT

STATE_DIR = REPO_ROOT / ".localcloud"
CONNECTION_FILE = "connection.json"


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs (a zombie, dead but not yet reaped, does not)."""
    if pid <= 0:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def read_connection(state_dir: Path = STATE_DIR) -> dict[str, Any] | None:
    """The connection of the live cloud; None when none runs (a dead one's file is left for
    `down` or the next `up` to clean up after it, see localcloud.recovery)."""
    path = state_dir / CONNECTION_FILE
    if not path.is_file():
        return None
    connection = json.loads(path.read_text())
    return connection if process_alive(int(connection["pid"])) else None


def write_connection(state_dir: Path, connection: dict[str, Any]) -> Path:
    """Write `connection.json` readable by its owner only: it holds the credentials and API key."""
    path = state_dir / CONNECTION_FILE
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # also when an older file had wider permissions
    with os.fdopen(descriptor, "w") as handle:
        handle.write(json.dumps(connection, indent=2))
    return path


def aws_client(connection: dict[str, Any], service: str) -> Any:
    """A boto3 client of the running cloud's `service` (through its edge), signed with its
    credentials."""
    return boto3.client(
        service,
        endpoint_url=connection["endpoints"]["default"],
        region_name=connection["region"],
        aws_access_key_id=connection["aws_access_key_id"],
        aws_secret_access_key=connection["aws_secret_access_key"],
    )
