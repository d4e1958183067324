"""The control API of a running local cloud: start pipeline runs, watch them, answer approvals.

`make up` keeps the cloud in a background process; the CLI (`run`, `approve`, `status`) and the
notebook talk to it through this small JSON-over-HTTP API on loopback.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from localcloud.background import ServerThread, bind
from localcloud.cloud import LocalCloud
from localcloud.codepipeline.runner import RunReport


class ApprovalGate:
    """A manual approval a person answers later; the pipeline thread waits on it."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self.pending: dict[str, Any] | None = None
        self._answer: tuple[bool, str] | None = None

    def wait(self, stage: str, action: str, configuration: dict[str, Any]) -> tuple[bool, str]:
        """Called by the runner: block until someone approves or rejects."""
        with self._condition:
            self.pending = {
                "stage": stage,
                "action": action,
                "summary": configuration.get("CustomData", ""),
            }
            self._answer = None
            self._condition.wait_for(lambda: self._answer is not None)
            answer, self.pending = self._answer, None
        assert answer is not None
        return answer

    def answer(self, approved: bool, comment: str) -> bool:
        """Resolve the pending approval; False when nothing is waiting."""
        with self._condition:
            if self.pending is None:
                return False
            self._answer = (approved, comment)
            self._condition.notify_all()
            return True


class ControlState:
    """The one run at a time this cloud executes, and its approval gate."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.gate = ApprovalGate()
        self.report: RunReport | None = None
        self.thread: threading.Thread | None = None

    def start_run(self) -> str | None:
        """Start a run in the background; None if one is already going."""
        if self.thread is not None and self.thread.is_alive():
            return None
        started = threading.Event()

        def observe(report: RunReport) -> None:
            self.report = report
            started.set()

        def run() -> None:
            self.cloud.run_pipeline(self.gate.wait, observe)

        self.thread = threading.Thread(target=run, name="pipeline-run", daemon=True)
        self.thread.start()
        started.wait(timeout=30)
        return self.report.execution_id if self.report else None

    def snapshot(self) -> dict[str, Any]:
        """The current run's state for clients."""
        report = self.report.to_json() if self.report else None
        return {"run": report, "waiting_for_approval": self.gate.pending}


class _Handler(BaseHTTPRequestHandler):
    state: ControlState
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the control API quiet."""

    def _reply(self, status: HTTPStatus, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            document = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return {}
        return document if isinstance(document, dict) else {}

    def do_GET(self) -> None:
        """GET /runs/current."""
        if self.path == "/runs/current":
            self._reply(HTTPStatus.OK, self.state.snapshot())
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no route {self.path}"})

    def do_POST(self) -> None:
        """POST /runs and POST /approval."""
        if self.path == "/runs":
            execution_id = self.state.start_run()
            if execution_id is None:
                self._reply(HTTPStatus.CONFLICT, {"error": "a pipeline run is already going"})
            else:
                self._reply(HTTPStatus.ACCEPTED, {"execution_id": execution_id})
        elif self.path == "/approval":
            body = self._body()
            approved = body.get("approved")
            if not isinstance(approved, bool):
                self._reply(HTTPStatus.BAD_REQUEST, {"error": "'approved' must be true or false"})
            elif self.state.gate.answer(approved, str(body.get("comment", ""))):
                self._reply(HTTPStatus.OK, {"approved": approved})
            else:
                self._reply(HTTPStatus.CONFLICT, {"error": "no approval is waiting"})
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no route {self.path}"})


def start_control_server(state: ControlState) -> ServerThread:
    """Serve the control API on a free loopback port in a background thread."""
    handler = type("ControlHandler", (_Handler,), {"state": state})
    server = bind(
        lambda: ThreadingHTTPServer(("127.0.0.1", 0), handler), "127.0.0.1", 0, "the control API"
    )
    server.daemon_threads = True
    return ServerThread(server, name="control-api")
