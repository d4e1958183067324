"""Reach a running local cloud (`make up`) from the CLI, the notebook or a test, without its server.

The background cloud writes `.localcloud/connection.json` (mode 0600): endpoint URLs, the
credentials every local service checks requests against, the API key, and its control API,
through which runs are started, watched and approved.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from localcloud.constants import REPO_ROOT

STATE_DIR = REPO_ROOT / ".localcloud"
CONNECTION_FILE = "connection.json"
SIGNING_NAME = "localcloud"  # the service the control API's requests are signed for


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


def signed_request(
    connection: dict[str, Any], method: str, url: str, body: bytes | None
) -> urllib.request.Request:
    """A request to a local service signed (SigV4) with the cloud's credentials."""
    credentials = ReadOnlyCredentials(
        connection["aws_access_key_id"], connection["aws_secret_access_key"], None
    )
    aws_request = AWSRequest(
        method=method, url=url, data=body or b"", headers={"Content-Type": "application/json"}
    )
    SigV4Auth(credentials, SIGNING_NAME, connection["region"]).add_auth(aws_request)
    return urllib.request.Request(  # noqa: S310 - loopback URL from connection.json
        url, data=body, method=method, headers=dict(aws_request.headers.items())
    )


class ControlClient:
    """Start, watch and approve pipeline runs of a running local cloud."""

    def __init__(self, connection: dict[str, Any]) -> None:
        self.connection = connection
        self.base = connection["control_url"]

    def call(
        self, path: str, method: str = "GET", document: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """One control-API call; an HTTP error comes back as its JSON body plus `status`."""
        body = json.dumps(document).encode() if document is not None else None
        request = signed_request(self.connection, method, f"{self.base}{path}", body)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            return {"status": error.code, **json.loads(error.read() or b"{}")}

    def pipeline(self) -> dict[str, Any]:
        """The pipeline's definition, shaped as CodePipeline's GetPipeline answers."""
        return self.call("/pipeline")

    def start_run(self) -> dict[str, Any]:
        """Start a run; the answer has `execution_id`, or `error` if one is already going."""
        return self.call("/runs", "POST", {})

    def current(self) -> dict[str, Any]:
        """`{"run": <report of the current or last run>, "waiting_for_approval": ... | None}`."""
        return self.call("/runs/current")

    def answer_approval(self, approved: bool, comment: str = "") -> dict[str, Any]:
        """Approve or reject the waiting approval; `error` when none is waiting."""
        return self.call("/approval", "POST", {"approved": approved, "comment": comment})
