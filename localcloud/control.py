"""The control API of a running local cloud: start pipeline runs, watch them, answer approvals.

`make up` keeps the cloud in a background process; the CLI (`run`, `approve`, `status`) and the
notebook talk to it through this small JSON-over-HTTP API on loopback, signed (SigV4) with the
cloud's own credentials like every other local service.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from typing import Any

from localcloud.background import HttpRequest, HttpResponse, HttpServer
from localcloud.client import SIGNING_NAME
from localcloud.cloud import LocalCloud
from localcloud.codepipeline.runner import RunReport
from localcloud.core.exceptions import AwsError
from localcloud.core.signing import Credentials, SignatureVerifier


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
    """The one run at a time this cloud executes, and its approval gate.

    The runner thread publishes a snapshot of its report (a plain dictionary, made on that
    thread, never changed afterwards) at every step; readers only ever see whole snapshots.
    """

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.gate = ApprovalGate()
        self._lock = threading.Lock()
        self._run: dict[str, Any] | None = None
        self._thread: threading.Thread | None = None

    def start_run(self) -> str | None:
        """Start a run in the background; None if one is already going."""
        started = threading.Event()

        def observe(report: RunReport) -> None:
            snapshot = report.to_json()  # on the runner's thread, which is the one changing it
            with self._lock:
                self._run = snapshot
            started.set()

        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return None
            self._run = None
            self._thread = threading.Thread(
                target=self.cloud.run_pipeline,
                args=(self.gate.wait, observe),
                name="pipeline-run",
                daemon=True,
            )
            self._thread.start()
        started.wait(timeout=30)
        with self._lock:
            return self._run["execution_id"] if self._run else None

    def pipeline(self) -> dict[str, Any]:
        """The pipeline's stages and actions in the shape of CodePipeline's GetPipeline answer."""
        definition = self.cloud.definition
        assert definition is not None, "the cloud has not started"
        stages = [
            {
                "name": stage.name,
                "actions": [
                    {
                        "name": action.name,
                        "actionTypeId": {"category": action.category, "provider": action.provider},
                        "configuration": action.configuration,
                        "runOrder": action.run_order,
                    }
                    for action in stage.actions
                ],
            }
            for stage in definition.stages
        ]
        return {"pipeline": {"name": definition.name, "stages": stages}}

    def snapshot(self) -> dict[str, Any]:
        """The current run's state for clients."""
        with self._lock:
            run = self._run
        return {"run": run, "waiting_for_approval": self.gate.pending}


class ControlApi:
    """`GET /pipeline`, `GET /runs/current`, `POST /runs`, `POST /approval`, signed as the cloud."""

    def __init__(self, state: ControlState, credentials: Credentials) -> None:
        self.state = state
        self.verifier = SignatureVerifier(credentials, {SIGNING_NAME})

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Check the signature, then route."""
        try:
            self.verifier.verify(request)
        except AwsError as error:
            return _reply(error.status, {"error": error.message, "code": error.code})
        route = (request.method, request.raw_path)
        if route == ("GET", "/pipeline"):
            return _reply(HTTPStatus.OK, self.state.pipeline())
        if route == ("GET", "/runs/current"):
            return _reply(HTTPStatus.OK, self.state.snapshot())
        if route == ("POST", "/runs"):
            execution_id = self.state.start_run()
            if execution_id is None:
                return _reply(HTTPStatus.CONFLICT, {"error": "a pipeline run is already going"})
            return _reply(HTTPStatus.ACCEPTED, {"execution_id": execution_id})
        if route == ("POST", "/approval"):
            return self._approval(request)
        return _reply(
            HTTPStatus.NOT_FOUND, {"error": f"no route {request.method} {request.raw_path}"}
        )

    def _approval(self, request: HttpRequest) -> HttpResponse:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("approved"), bool):
            return _reply(HTTPStatus.BAD_REQUEST, {"error": "'approved' must be true or false"})
        comment = body.get("comment", "")
        if not isinstance(comment, str):
            return _reply(HTTPStatus.BAD_REQUEST, {"error": "'comment' must be a string"})
        if not self.state.gate.answer(body["approved"], comment):
            return _reply(HTTPStatus.CONFLICT, {"error": "no approval is waiting"})
        return _reply(HTTPStatus.OK, {"approved": body["approved"]})


def _reply(status: int, document: dict[str, Any]) -> HttpResponse:
    return HttpResponse(
        int(status), [("Content-Type", "application/json")], json.dumps(document).encode()
    )


def start_control_server(state: ControlState, credentials: Credentials) -> HttpServer:
    """Serve the control API on a free loopback port in a background thread."""
    server = HttpServer(ControlApi(state, credentials).handle, what="the control API")
    server.start()
    return server
