"""One deployment of an endpoint: a serve process, its health check, a kept-alive connection pool.

A deployment is what one UpdateEndpoint (or the CreateEndpoint) brings up. It counts the
requests in flight, so the endpoint can switch traffic to a new deployment and stop the old one
only once its last request has been answered.
"""

from __future__ import annotations

import http.client
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from localcloud.background import free_port
from localcloud.sagemaker.common import Settings
from localcloud.sagemaker.hosting import EndpointConfig, Model
from localcloud.sagemaker.http11 import ConnectionPool, ProtocolError
from localcloud.sagemaker.layout import SERVE_LOG, StateLayout, tail
from localcloud.sagemaker.processes import Program
from localcloud.sagemaker.storage import S3Storage, StorageError

FAILURE_REASON_LIMIT = 1024
LOOPBACK = "127.0.0.1"
PING_INTERVAL_SECONDS = 0.05
PING_TIMEOUT_SECONDS = 2.0


class DeploymentFailed(Exception):
    """The deployment could not become healthy; the message is the endpoint's FailureReason."""


class DeploymentCancelled(Exception):
    """The endpoint was deleted (or the server stopped) while the deployment was starting."""


class ContainerUnreachable(Exception):
    """No HTTP answer from the container: refused, reset or timed out."""


Response = tuple[int, dict[str, str], bytes]


class Deployment:
    """One serve process for one endpoint configuration, from download to stop."""

    def __init__(self, base_dir: Path, config: EndpointConfig, model: Model) -> None:
        self.base_dir = base_dir
        self.config = config
        self.model = model
        self.variant_name: str = config.variant["VariantName"]
        self.image: str = model.container["Image"]
        self.started = time.time()
        self.program: Program | None = None
        self.pool: ConnectionPool | None = None
        self.stopping = False
        self._lock = threading.Lock()
        self._drained = threading.Condition()
        self._inflight = 0
        self._retired = False

    @property
    def log_path(self) -> Path:
        """The serve process's stdout and stderr."""
        return self.base_dir / SERVE_LOG

    # --- bring-up --------------------------------------------------------------------------
    def start(
        self,
        layout: StateLayout,
        storage: S3Storage,
        python: str,
        settings: Settings,
        on_exit: Callable[[int], None],
    ) -> None:
        """Download the model, start serve, and return once GET /ping answers 200."""
        container = self.model.container
        try:
            snapshot = layout.resolve_image(self.image, "serve")
            model_dir = self.base_dir / "model"
            if data_url := container.get("ModelDataUrl"):
                storage.extract_model(data_url, model_dir)
            else:
                model_dir.mkdir(parents=True, exist_ok=True)
        except (LookupError, StorageError) as error:
            raise DeploymentFailed(str(error)[:FAILURE_REASON_LIMIT]) from error
        environment = container.get("Environment", {})
        port = free_port()
        env = {
            **os.environ,
            **environment,
            "PYTHONPATH": str(snapshot / "src"),
            "PYTHONUNBUFFERED": "1",
            "SAGEMAKER_BIND_TO_PORT": str(port),
            "MODEL_SERVER_HOST": LOOPBACK,  # the container's own variable: loopback only here
            "SAGEMAKER_BASE_DIR": str(self.base_dir),
            "SAGEMAKER_MODEL_SERVER_WORKERS": environment.get(
                "SAGEMAKER_MODEL_SERVER_WORKERS", str(settings.default_workers)
            ),
        }
        argv = [python, str(snapshot / "bin" / "serve")]
        with self._lock:  # a stop either sees the program or prevents it
            if self.stopping:
                raise DeploymentCancelled
            self.program = Program(
                argv, env=env, cwd=self.base_dir, log_path=self.log_path, on_exit=on_exit
            )
        self._wait_healthy(self.program, port, settings.health_timeout)
        self.pool = ConnectionPool(port, settings)

    def _wait_healthy(self, program: Program, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.stopping:
                raise DeploymentCancelled
            if program.exited.is_set():
                raise DeploymentFailed(
                    self._reason(
                        f"exited with code {program.returncode} before passing the ping health "
                        "check"
                    )
                )
            if _ping(port) == 200:
                return
            if time.monotonic() > deadline:
                raise DeploymentFailed(
                    self._reason(f"did not pass the ping health check within {timeout:g} seconds")
                )
            program.exited.wait(PING_INTERVAL_SECONDS)

    def _reason(self, what: str) -> str:
        reason = (
            f"The primary container for production variant {self.variant_name} {what}. "
            f"Log tail: {tail(self.log_path, 700)}"
        )
        return reason[:FAILURE_REASON_LIMIT]

    def exit_reason(self) -> str:
        """FailureReason for a serve process that died while in service."""
        program = self.program
        code = program.returncode if program is not None else None
        return self._reason(f"exited unexpectedly with code {code}")

    # --- traffic ---------------------------------------------------------------------------
    def acquire(self) -> bool:
        """Count one request in, unless traffic has already moved to a newer deployment."""
        with self._drained:
            if self._retired:
                return False
            self._inflight += 1
            return True

    def release(self) -> None:
        """Count one request out."""
        with self._drained:
            self._inflight -= 1
            if self._inflight == 0:
                self._drained.notify_all()

    def forward(self, body: bytes, headers: dict[str, str]) -> Response:
        """POST /invocations to the serve process; ContainerUnreachable when there is no answer."""
        assert self.pool is not None, "forward() before the deployment is healthy"
        try:
            return self.pool.request("POST", "/invocations", headers, body)
        except TimeoutError as error:
            raise ContainerUnreachable(f"no answer within {self.pool.timeout:g} seconds") from error
        except (OSError, ProtocolError) as error:
            raise ContainerUnreachable(str(error) or type(error).__name__) from error

    # --- shutdown --------------------------------------------------------------------------
    def retire(self, drain_timeout: float) -> None:
        """Take no new requests, let those in flight finish (up to drain_timeout), then stop."""
        with self._drained:
            self._retired = True
            self._drained.wait_for(lambda: self._inflight == 0, drain_timeout)
        self.stop()
        shutil.rmtree(self.base_dir / "model", ignore_errors=True)

    def send_stop(self) -> None:
        """Mark the deployment stopping and SIGTERM its process, without waiting."""
        with self._lock:
            self.stopping = True
            program = self.program
        if program is not None:
            program.send_stop()

    def stop(self) -> None:
        """Stop the serve process (waits for it) and close the pool."""
        self.send_stop()
        if self.program is not None:
            self.program.stop()
        self.discard()

    def discard(self) -> None:
        """Mark the deployment stopping and drop its pooled connections (process already gone)."""
        self.stopping = True
        if self.pool is not None:
            self.pool.close()


def _ping(port: int) -> int | None:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=PING_TIMEOUT_SECONDS)
    try:
        connection.request("GET", "/ping")
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()
