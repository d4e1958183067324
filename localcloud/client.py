"""Reach a running local cloud (`make up`) from the CLI, the notebook or a test, without its server.

The background cloud writes `.localcloud/connection.json`: endpoint URLs, dummy credentials, the
API key and its control API, through which runs are started, watched and approved.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = REPO_ROOT / ".localcloud"
CONNECTION_FILE = "connection.json"


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_connection(state_dir: Path = STATE_DIR) -> dict[str, Any] | None:
    """The connection of the live cloud; a file left by a killed one is removed on sight."""
    path = state_dir / CONNECTION_FILE
    if not path.is_file():
        return None
    connection = json.loads(path.read_text())
    if process_alive(int(connection["pid"])):
        return connection
    path.unlink(missing_ok=True)
    print(f"Removed {path} left by a local cloud that is no longer running.")
    return None


def call(url: str, method: str = "GET", document: dict[str, Any] | None = None) -> dict[str, Any]:
    """One control-API call; an HTTP error comes back as its JSON body plus `status`."""
    data = json.dumps(document).encode() if document is not None else None
    request = urllib.request.Request(  # noqa: S310 - loopback URL from connection.json
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return {"status": error.code, **json.loads(error.read() or b"{}")}


class ControlClient:
    """Start, watch and approve pipeline runs of a running local cloud."""

    def __init__(self, connection: dict[str, Any]) -> None:
        self.base = connection["control_url"]

    def start_run(self) -> dict[str, Any]:
        """Start a run; the answer has `execution_id`, or `error` if one is already going."""
        return call(f"{self.base}/runs", "POST", {})

    def current(self) -> dict[str, Any]:
        """`{"run": <report of the current or last run>, "waiting_for_approval": ... | None}`."""
        return call(f"{self.base}/runs/current")

    def answer_approval(self, approved: bool, comment: str = "") -> dict[str, Any]:
        """Approve or reject the waiting approval; `error` when none is waiting."""
        return call(f"{self.base}/approval", "POST", {"approved": approved, "comment": comment})
