"""One deployment of an endpoint: its model, its serving instances, and the requests in flight.

A deployment is what one UpdateEndpoint (or the CreateEndpoint) brings up: a fleet. Each
instance is one serve process with a health check and a kept-alive connection pool (urllib3);
requests go round the instances in turn. When an instance dies, the endpoint starts a new one
in its place (SageMaker replaces unhealthy instances); while a fleet has none answering,
requests get ServiceUnavailable. The deployment counts the requests in flight, so the endpoint
can switch traffic to a new deployment and stop the old one only once its last request has
been answered; an instance taken out when the fleet scales in is drained the same way. Each
instance's output also goes to CloudWatch Logs, group `/aws/sagemaker/Endpoints/<endpoint>`,
stream `<variant>/<instance id>`.
"""

from __future__ import annotations

import itertools
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import urllib3

from localcloud.background import free_port
from localcloud.processes import ProcessRegistry, Program
from localcloud.sagemaker.capture import CaptureWriter
from localcloud.sagemaker.clients import AwsClients
from localcloud.sagemaker.common import FAILURE_REASON_LIMIT, Settings
from localcloud.sagemaker.containers import program_environment
from localcloud.sagemaker.hosting import EndpointConfig, Model
from localcloud.sagemaker.layout import SERVE_LOG, StateLayout, tail
from localcloud.sagemaker.logs import endpoint_log_group, follow, instance_id
from localcloud.sagemaker.storage import S3Storage, StorageError

LOOPBACK = "127.0.0.1"
PING_INTERVAL_SECONDS = 0.05
PING_TIMEOUT_SECONDS = 2.0
MAX_POOLED_CONNECTIONS = 32
EXITED_GRACE_SECONDS = 0.5  # after a connection error, how long to wait to learn the process died


class DeploymentFailed(Exception):
    """The deployment could not become healthy; the message is the endpoint's FailureReason."""


class DeploymentCancelled(Exception):
    """The endpoint was deleted (or the server stopped) while the deployment was starting."""


class ContainerUnreachable(Exception):
    """No HTTP answer from the container: refused, reset or timed out."""


class NoInstance(Exception):
    """The deployment's instances died and no replacement is answering yet."""


Response = tuple[int, dict[str, str], bytes]


class Instance:
    """One serve process on its own port, and the connections to it."""

    def __init__(self, program: Program, port: int, invoke_timeout: float) -> None:
        self.program = program
        self.port = port
        self.pool = urllib3.HTTPConnectionPool(
            LOOPBACK,
            port,
            maxsize=MAX_POOLED_CONNECTIONS,
            block=False,
            timeout=urllib3.Timeout(connect=PING_TIMEOUT_SECONDS, read=invoke_timeout),
            retries=urllib3.Retry(total=1, connect=1, read=0, redirect=0, status=0, other=0),
        )
        self.invoke_timeout = invoke_timeout
        self.inflight = 0  # requests sent and not yet answered (the deployment's lock guards it)

    def ping(self) -> int | None:
        """GET /ping's status, or None if the process does not answer."""
        try:
            response = self.pool.request(
                "GET", "/ping", timeout=PING_TIMEOUT_SECONDS, retries=False
            )
        except urllib3.exceptions.HTTPError:
            return None
        return response.status

    def forward(self, body: bytes, headers: dict[str, str]) -> Response:
        """POST /invocations; ContainerUnreachable when there is no answer."""
        try:
            response = self.pool.urlopen("POST", "/invocations", body=body, headers=headers)
        except (urllib3.exceptions.TimeoutError, urllib3.exceptions.MaxRetryError) as error:
            reason = getattr(error, "reason", None) or error
            if isinstance(reason, urllib3.exceptions.TimeoutError):
                raise ContainerUnreachable(
                    f"no answer within {self.invoke_timeout:g} seconds"
                ) from error
            raise ContainerUnreachable(str(reason) or type(reason).__name__) from error
        except urllib3.exceptions.HTTPError as error:
            raise ContainerUnreachable(str(error) or type(error).__name__) from error
        answer_headers = {name.lower(): value for name, value in response.headers.items()}
        return response.status, answer_headers, response.data

    def close(self) -> None:
        """Drop the pooled connections (the process is stopped separately)."""
        self.pool.close()


def wait_healthy(instance: Instance, timeout: float, cancelled: Callable[[], bool]) -> str | None:
    """Poll GET /ping until 200: None then, else what went wrong ("exited with code 1 before
    passing the ping health check"); DeploymentCancelled as soon as `cancelled()`."""
    deadline = time.monotonic() + timeout
    program = instance.program
    while True:
        if cancelled():
            raise DeploymentCancelled
        if program.exited.is_set():
            return f"exited with code {program.returncode} before passing the ping health check"
        if instance.ping() == 200:
            return None
        if time.monotonic() > deadline:
            return f"did not pass the ping health check within {timeout:g} seconds"
        program.exited.wait(PING_INTERVAL_SECONDS)


class Deployment:
    """One endpoint configuration brought up: model data, its instances, traffic accounting."""

    def __init__(
        self,
        endpoint: str,
        base_dir: Path,
        config: EndpointConfig,
        model: Model,
        registry: ProcessRegistry,
        clients: AwsClients,
        capture: CaptureWriter | None = None,
        desired_count: int | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.capture = capture
        self.base_dir = base_dir
        self._clients = clients
        self.config = config
        self.model = model
        self.variant_name: str = config.variant["VariantName"]
        self.image: str = model.container["Image"]
        self.started = time.time()
        self.instances: list[Instance] = []
        self.desired_count: int = desired_count or config.variant.get("InitialInstanceCount", 1)
        self.weight: float = config.variant.get("InitialVariantWeight", 1.0)
        # The configuration whose DataCaptureConfig this fleet captures with (an update that
        # retains variant properties keeps the old fleet's).
        self.capture_source: EndpointConfig = config
        self._turn = itertools.count()
        self.stopping = False
        self._stopped = threading.Event()
        self._registry = registry
        self._snapshot: Path | None = None
        self._lock = threading.Lock()
        self._drained = threading.Condition()
        self._inflight = 0
        self._retired = False

    @property
    def log_path(self) -> Path:
        """The serve processes' stdout and stderr."""
        return self.base_dir / SERVE_LOG

    @property
    def current_count(self) -> int:
        """Instances in service (CurrentInstanceCount)."""
        return len(self.instances)

    # --- bring-up --------------------------------------------------------------------------
    def start(
        self,
        layout: StateLayout,
        storage: S3Storage,
        python: str,
        settings: Settings,
        on_exit: Callable[[Instance], None],
        count: int | None = None,
    ) -> None:
        """Download the model, start `count` instances (default: the desired count), return once
        each answers GET /ping with 200."""
        container = self.model.container
        try:
            self._snapshot = layout.resolve_image(self.image, "serve")
            model_dir = self.base_dir / "model"
            if data_url := container.get("ModelDataUrl"):
                storage.extract_model(data_url, model_dir)
            else:
                model_dir.mkdir(parents=True, exist_ok=True)
        except (LookupError, StorageError) as error:
            raise DeploymentFailed(str(error)[:FAILURE_REASON_LIMIT]) from error
        self.scale_to(self.desired_count if count is None else count, python, settings, on_exit)

    def scale_to(
        self,
        count: int,
        python: str,
        settings: Settings,
        on_exit: Callable[[Instance], None],
    ) -> None:
        """Start instances (side by side) or drain and stop some until `count` serve.

        A start that fails raises DeploymentFailed once the others are up, so what did start
        serves on.
        """
        missing = count - len(self.instances)
        if missing <= 0:
            with self._lock:
                surplus, self.instances = self.instances[count:], self.instances[:count]
            for instance in surplus:
                self._drain(instance, settings.drain_timeout)
            return
        errors: list[BaseException] = []

        def start_one() -> None:
            try:
                self.start_instance(python, settings, on_exit)
            except BaseException as error:  # reported below, on the caller's thread
                errors.append(error)

        starters = [threading.Thread(target=start_one, daemon=True) for _ in range(missing)]
        for starter in starters:
            starter.start()
        for starter in starters:
            starter.join()
        for error in errors:  # a cancellation first: it explains the other failures
            if isinstance(error, DeploymentCancelled):
                raise error
        if errors:
            raise errors[0]

    def _drain(self, instance: Instance, timeout: float) -> None:
        """Stop an instance already out of rotation once its requests are answered."""
        deadline = time.monotonic() + timeout
        while instance.inflight and time.monotonic() < deadline:
            time.sleep(PING_INTERVAL_SECONDS)
        instance.program.stop()
        instance.close()

    def start_instance(
        self, python: str, settings: Settings, on_exit: Callable[[Instance], None]
    ) -> None:
        """Start a serve process (a new one, or a replacement) and wait until it is healthy."""
        assert self._snapshot is not None, "start_instance() before start()"
        environment = self.model.container.get("Environment", {})
        port = free_port()
        env = program_environment(
            self._snapshot,
            self.base_dir,
            environment,
            {
                "SAGEMAKER_BIND_TO_PORT": str(port),
                "MODEL_SERVER_HOST": LOOPBACK,  # the container's own variable: loopback only
                "SAGEMAKER_MODEL_SERVER_WORKERS": environment.get(
                    "SAGEMAKER_MODEL_SERVER_WORKERS", str(settings.default_workers)
                ),
            },
        )
        argv = [python, str(self._snapshot / "bin" / "serve")]
        holder: list[Instance] = []
        # Each instance's stream gets the lines it prints: those after the log's current end.
        offset = self.log_path.stat().st_size if self.log_path.is_file() else 0
        with self._lock:  # a stop either sees the program or prevents it
            if self.stopping:
                raise DeploymentCancelled
            program = Program(
                argv,
                env=env,
                cwd=self.base_dir,
                log_path=self.log_path,
                what=f"endpoint instance of {self.config.name}",
                registry=self._registry,
                # An exit before `holder` is filled is seen by the health check instead.
                on_exit=lambda code: holder and on_exit(holder[0]),
            )
            instance = Instance(program, port, settings.invoke_timeout)
            holder.append(instance)
        follow(
            self._clients.client("logs"),
            program,
            endpoint_log_group(self.endpoint),
            f"{self.variant_name}/{instance_id()}",
            offset,
        )
        try:
            self._wait_healthy(
                instance,
                self.config.variant.get(
                    "ContainerStartupHealthCheckTimeoutInSeconds", settings.health_timeout
                ),
            )
            with self._lock:
                if self.stopping:
                    raise DeploymentCancelled
                self.instances.append(instance)
        except BaseException:
            program.stop()
            instance.close()
            raise

    def _wait_healthy(self, instance: Instance, timeout: float) -> None:
        problem = wait_healthy(instance, timeout, lambda: self.stopping)
        if problem is not None:
            raise DeploymentFailed(self._reason(problem))

    def _reason(self, what: str) -> str:
        reason = (
            f"The primary container for production variant {self.variant_name} {what}. "
            f"Log tail: {tail(self.log_path, 700)}"
        )
        return reason[:FAILURE_REASON_LIMIT]

    def lose(self, instance: Instance) -> str | None:
        """Take a dead instance out of service; the reason, or None if it was not serving."""
        with self._lock:
            if self.stopping or instance not in self.instances:
                return None
            self.instances.remove(instance)
        instance.close()
        code = instance.program.returncode
        return self._reason(f"exited unexpectedly with code {code}")

    def wait_stopping(self, seconds: float) -> bool:
        """Wait up to `seconds`; True as soon as the deployment is being stopped."""
        return self._stopped.wait(seconds)

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
        """POST /invocations to the next instance in turn; NoInstance if none is serving."""
        with self._lock:
            if not self.instances:
                raise NoInstance
            instance = self.instances[next(self._turn) % len(self.instances)]
            instance.inflight += 1
        try:
            return instance.forward(body, headers)
        except ContainerUnreachable:
            # A connection error from a process that is exiting is its death, not a model error.
            if instance.program.exited.wait(EXITED_GRACE_SECONDS):
                raise NoInstance from None
            raise
        finally:
            with self._lock:
                instance.inflight -= 1

    # --- shutdown --------------------------------------------------------------------------
    def retire(self, drain_timeout: float) -> None:
        """Take no new requests, let those in flight finish (up to drain_timeout), then stop."""
        with self._drained:
            self._retired = True
            self._drained.wait_for(lambda: self._inflight == 0, drain_timeout)
        self.stop()
        shutil.rmtree(self.base_dir / "model", ignore_errors=True)

    def send_stop(self) -> None:
        """Mark the deployment stopping and SIGTERM its processes, without waiting."""
        with self._lock:
            self.stopping = True
            instances = list(self.instances)
        self._stopped.set()
        for instance in instances:
            instance.program.send_stop()

    def stop(self) -> None:
        """Stop the serve processes (waits for them), close their connections, write capture."""
        self.send_stop()
        with self._lock:
            instances, self.instances = self.instances, []
        for instance in instances:
            instance.program.stop()
            instance.close()
        if self.capture is not None:
            self.capture.close()
