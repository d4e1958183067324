"""Invoke registered functions in warm worker processes, with Lambda's limits, errors and logs."""

from __future__ import annotations

import json
import logging
import math
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localcloud.constants import ACCOUNT_ID, REGION
from localcloud.lambda_runtime.exceptions import CallerTimeout, ResourceNotFoundException
from localcloud.lambda_runtime.function import LambdaFunction, environment_value, unpack
from localcloud.lambda_runtime.logs import ExecutionLog, FunctionLogFile
from localcloud.lambda_runtime.pool import Worker, WorkerPool
from localcloud.paths import inside
from localcloud.processes import ProcessRegistry, base_path

DEFAULT_MAX_WORKERS = 8
INIT_LIMIT_SECONDS = 10.0  # Lambda's limit on the init phase of an on-demand function
TIMED_OUT = "Sandbox.Timedout"
EXIT_ERROR = "Runtime.ExitError"
PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
LOG = logging.getLogger("localcloud.lambda")


@dataclass(frozen=True)
class LambdaError:
    """A failed invocation as Lambda reports it.

    An exception of the function's own code (or its init) also carries the request id and the
    stack trace, as Lambda's Python runtime answers them; the runtime's own errors do not.
    """

    type: str
    message: str
    request_id: str | None = None
    stack_trace: tuple[str, ...] | None = None

    @classmethod
    def from_frame(cls, shape: dict[str, Any]) -> LambdaError:
        """The error shape a worker sent."""
        trace = shape.get("stackTrace")
        return cls(
            shape["errorType"],
            shape["errorMessage"],
            shape.get("requestId"),
            None if trace is None else tuple(trace),
        )

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"

    @property
    def timed_out(self) -> bool:
        """The function ran out of time (its timeout, or Lambda's init limit)."""
        return self.type == TIMED_OUT

    def to_payload(self) -> dict[str, Any]:
        """The body Lambda's Invoke returns for a function error."""
        payload: dict[str, Any] = {"errorMessage": self.message, "errorType": self.type}
        if self.request_id is not None and self.stack_trace is not None:
            payload["requestId"] = self.request_id
            payload["stackTrace"] = list(self.stack_trace)
        return payload


@dataclass(frozen=True)
class InvocationResult:
    """What one invocation returned: the handler's JSON payload, or an error."""

    request_id: str
    payload: Any = None
    error: LambdaError | None = None
    duration_ms: float = 0.0
    init_ms: float | None = None  # set when this invocation started a new worker
    log_tail: bytes | None = None  # the last 4 KB of its log, when asked for (LogType Tail)

    @property
    def ok(self) -> bool:
        """The handler returned normally."""
        return self.error is None


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Deployment:
    """One registered version of a function: unpacked code, environment, logs and warm pool."""

    def __init__(
        self,
        function: LambdaFunction,
        code_dir: Path,
        environment: dict[str, str],
        arn: str,
        log_file: FunctionLogFile,
        logs: Any,
        max_workers: int,
        registry: ProcessRegistry,
    ) -> None:
        self.function = function
        self.code_dir = code_dir
        self.environment = environment
        self.arn = arn
        self.log_file = log_file
        self.logs = logs
        self.registry = registry
        self.pool = WorkerPool(self._spawn, max_workers)

    def _spawn(self) -> Worker:
        """A new execution environment, with its own log stream as in Lambda."""
        stream = f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{uuid.uuid4().hex}"
        log = ExecutionLog(self.log_file, self.logs, self.function.log_group_name, stream)
        log.write([f"INIT_START Runtime Version: python:{PYTHON_VERSION}"])
        environment = {**self.environment, "AWS_LAMBDA_LOG_STREAM_NAME": stream}
        try:
            return Worker(self.function.handler, self.code_dir, environment, log, self.registry)
        except BaseException:
            log.close()
            raise

    def invoke(
        self, event: Any, wait_seconds: float | None, request_id: str, tail: bool
    ) -> InvocationResult:
        payload = json.dumps(event).encode()  # before taking a worker: a bad event is the caller's
        started = time.monotonic()
        caller_deadline = math.inf if wait_seconds is None else started + wait_seconds
        worker = self.pool.acquire()
        if tail:
            worker.log.start_tail()
        try:
            result = self._run(worker, request_id, payload, started, caller_deadline)
        except BaseException:
            worker.log.take_tail()
            self.pool.discard(worker)
            raise
        if tail:
            result = replace(result, log_tail=worker.log.take_tail())
        # A handler's own exception leaves its environment warm, as in Lambda; timeouts,
        # crashes and failed inits do not.
        if worker.initialized and worker.alive():
            self.pool.release(worker)
        else:
            self.pool.discard(worker)
        return result

    def _run(
        self,
        worker: Worker,
        request_id: str,
        payload: bytes,
        started: float,
        caller_deadline: float,
    ) -> InvocationResult:
        init_ms = None
        if not worker.initialized:
            deadline = min(started + INIT_LIMIT_SECONDS, caller_deadline)
            outcome = self._initialize(worker, request_id, deadline)
            if isinstance(outcome, LambdaError):
                worker.log.write([f"START RequestId: {request_id} Version: $LATEST"])
                if outcome.timed_out:
                    worker.kill()
                    if deadline == caller_deadline:
                        self._abandon(worker, request_id, started, caller_deadline)
                return self._finished(worker, request_id, started, None, error=outcome, fatal=True)
            init_ms = outcome
        return self._call(worker, request_id, payload, init_ms, caller_deadline)

    def _initialize(self, worker: Worker, request_id: str, deadline: float) -> float | LambdaError:
        """Wait for the worker's init to end: its duration (process start included) or error."""
        try:
            frame = worker.receive(deadline - time.monotonic())
        except TimeoutError:
            limit = deadline - worker.started
            return LambdaError(TIMED_OUT, f"Init phase timed out after {limit:.2f} seconds")
        if frame is None:
            return self._exited(worker, request_id)
        report = json.loads(frame)
        worker.memory_mb = report["memory_mb"]
        if "error" in report:
            return LambdaError.from_frame(report["error"])
        worker.initialized = True
        return (time.monotonic() - worker.started) * 1000

    def _call(
        self,
        worker: Worker,
        request_id: str,
        payload: bytes,
        init_ms: float | None,
        caller_deadline: float,
    ) -> InvocationResult:
        timeout = self.function.timeout
        meta = {
            "id": request_id,
            "arn": self.arn,
            "deadline_ms": int((time.time() + timeout) * 1000),
        }
        worker.log.write([f"START RequestId: {request_id} Version: $LATEST"])
        began = time.monotonic()
        deadline = min(began + timeout, caller_deadline)
        try:
            sent = worker.send([json.dumps(meta).encode(), payload], deadline - time.monotonic())
            frame = worker.receive(deadline - time.monotonic()) if sent else None
        except TimeoutError:
            worker.kill()
            if deadline == caller_deadline:
                self._abandon(worker, request_id, began, caller_deadline)
            message = f"Task timed out after {timeout:.2f} seconds"
            worker.log.write([f"{_timestamp()} {request_id} {message}"])
            error = LambdaError(TIMED_OUT, message)
            return self._finished(worker, request_id, began, init_ms, error=error, fatal=True)
        if frame is None:
            error = self._exited(worker, request_id)
            worker.log.write([error.message, EXIT_ERROR])
            return self._finished(worker, request_id, began, init_ms, error=error, fatal=True)
        answer = json.loads(frame)
        worker.memory_mb = answer["memory_mb"]
        if "error" in answer:
            error = LambdaError.from_frame(answer["error"])
            return self._finished(worker, request_id, began, init_ms, error=error)
        return self._finished(worker, request_id, began, init_ms, payload=answer["payload"])

    def _abandon(self, worker: Worker, request_id: str, began: float, deadline: float) -> None:
        """The caller's own limit ran out (its worker is already stopped): log it and raise."""
        waited = deadline - began
        worker.log.write(
            [
                f"{_timestamp()} {request_id} The caller stopped waiting after {waited:.2f} "
                "seconds; the execution environment was stopped"
            ]
        )
        self._report(worker, request_id, waited * 1000, None, "\tStatus: timeout")
        raise CallerTimeout(f"{self.function.name} did not answer within {waited:.2f} seconds")

    @staticmethod
    def _exited(worker: Worker, request_id: str) -> LambdaError:
        reason = worker.exit_reason()
        return LambdaError(
            EXIT_ERROR, f"RequestId: {request_id} Error: Runtime exited with error: {reason}"
        )

    def _finished(
        self,
        worker: Worker,
        request_id: str,
        began: float,
        init_ms: float | None,
        *,
        payload: Any = None,
        error: LambdaError | None = None,
        fatal: bool = False,
    ) -> InvocationResult:
        duration_ms = (time.monotonic() - began) * 1000
        status = ""
        if error is not None and fatal:  # the environment ended: REPORT says how, as Lambda's does
            status = (
                "\tStatus: timeout"
                if error.timed_out
                else f"\tStatus: error\tError Type: {error.type}"
            )
        self._report(worker, request_id, duration_ms, init_ms, status)
        return InvocationResult(request_id, payload, error, duration_ms, init_ms)

    def _report(
        self,
        worker: Worker,
        request_id: str,
        duration_ms: float,
        init_ms: float | None,
        status: str,
    ) -> None:
        init = f"\tInit Duration: {init_ms:.2f} ms" if init_ms is not None else ""
        # Since August 2025 Lambda bills the init phase of on-demand functions too.
        billed = math.ceil(duration_ms + (init_ms or 0.0))
        worker.log.write(
            [
                f"END RequestId: {request_id}",
                f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
                f"Billed Duration: {billed} ms\tMemory Size: {self.function.memory} MB\t"
                f"Max Memory Used: {worker.memory_mb} MB{init}{status}",
            ]
        )


class LambdaRuntime:
    """Registered functions, each invoked from its own deployment zip in warm worker processes.

    Usage::

        runtime = LambdaRuntime(state_dir, ambient_environment={"AWS_ENDPOINT_URL": url, ...},
                                logs=session.client("logs"))
        runtime.register(LambdaFunction("echo", zip_bytes, "app.handler", {"LOG_LEVEL": "DEBUG"}))
        result = runtime.invoke("echo", {"hello": "world"})   # thread-safe
        result.payload if result.ok else result.error          # LambdaError(type, message)
        runtime.invoke_async("echo", {"hello": "later"})       # InvocationType Event
        runtime.shutdown()

    Workers get only `ambient_environment` (endpoints, region, the cloud's credentials), what
    Lambda itself sets, and the function's own; PYTHONPATH is the unpacked code alone. Code is
    unpacked to `<state_dir>/lambda/<name>/<sha256>/`. Output and Lambda's START/END/REPORT lines
    go to `log_path(name)` and, given a CloudWatch Logs client, to the function's log group,
    one stream per worker as in Lambda.
    """

    def __init__(
        self,
        state_dir: Path,
        ambient_environment: Mapping[str, str] | None = None,
        *,
        logs: Any = None,
        max_workers_per_function: int = DEFAULT_MAX_WORKERS,
        account_id: str = ACCOUNT_ID,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.ambient = dict(ambient_environment or {})
        self.region = self.ambient.get("AWS_REGION", REGION)
        self.account_id = account_id
        self.logs = logs
        self.max_workers = max_workers_per_function
        self.registry = ProcessRegistry(self.state_dir)
        self._deployments: dict[str, _Deployment] = {}
        self._log_files: dict[str, FunctionLogFile] = {}
        self._lock = threading.Lock()
        self._closed = False
        # Event invocations wait in this queue for a thread, as in Lambda's internal queue.
        self._queue = ThreadPoolExecutor(
            max_workers=max_workers_per_function, thread_name_prefix="lambda-event"
        )

    def log_path(self, function_name: str) -> Path:
        """Where a function's output and START/END/REPORT lines go on disk."""
        return self.state_dir / "logs" / "lambda" / f"{function_name}.log"

    def arn(self, function_name: str) -> str:
        """The function's ARN in this runtime's account and region."""
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{function_name}"

    def register(self, function: LambdaFunction) -> None:
        """Create or replace a function; a new version starts with new workers, as in Lambda."""
        function.validate()
        function_dir = inside(self.state_dir / "lambda", function.name)
        code_dir = unpack(function.zip_bytes(), function_dir)
        home = function_dir / "home"
        home.mkdir(parents=True, exist_ok=True)
        with self._lock:
            if self._closed:
                raise RuntimeError("the Lambda runtime is shut down")
            log_file = self._log_files.get(function.name)
            if log_file is None:
                log_file = FunctionLogFile(self.log_path(function.name))
                self._log_files[function.name] = log_file
            deployment = _Deployment(
                function,
                code_dir,
                self._environment(function, code_dir, home),
                self.arn(function.name),
                log_file,
                self.logs,
                self.max_workers,
                self.registry,
            )
            previous = self._deployments.get(function.name)
            self._deployments[function.name] = deployment
        if previous is not None:
            previous.pool.retire()

    def _environment(self, function: LambdaFunction, code_dir: Path, home: Path) -> dict[str, str]:
        return {
            "PATH": base_path(),
            "HOME": str(home),  # not the user's: their ~/.aws must not reach the function
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": str(code_dir),
            **self.ambient,
            "LAMBDA_TASK_ROOT": str(code_dir),
            "_HANDLER": function.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{PYTHON_VERSION}",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": f"{function.timeout:g}",
            "AWS_LAMBDA_LOG_GROUP_NAME": function.log_group_name,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            **{key: environment_value(value) for key, value in function.environment.items()},
        }

    def _deployment(self, function_name: str) -> _Deployment:
        if self._closed:
            raise RuntimeError("the Lambda runtime is shut down")
        deployment = self._deployments.get(function_name)
        if deployment is None:
            raise ResourceNotFoundException(f"Function not found: {self.arn(function_name)}")
        return deployment

    def check(self, function_name: str) -> None:
        """Raise ResourceNotFoundException unless the function exists (Invoke's DryRun)."""
        self._deployment(function_name)

    def invoke(
        self,
        function_name: str,
        event: Any,
        wait_seconds: float | None = None,
        *,
        tail: bool = False,
        request_id: str | None = None,
    ) -> InvocationResult:
        """Run the function on `event` (RequestResponse); thread-safe.

        Function errors, timeouts and crashes come back as `result.error`. `wait_seconds` is
        the caller's own limit (API Gateway's integration timeout): past it the worker is
        stopped and CallerTimeout is raised. With `tail`, `result.log_tail` holds the last 4 KB
        of the invocation's log.
        """
        deployment = self._deployment(function_name)
        return deployment.invoke(event, wait_seconds, request_id or str(uuid.uuid4()), tail)

    def invoke_async(self, function_name: str, event: Any) -> str:
        """Queue an invocation (InvocationType Event) and return its request id at once."""
        self._deployment(function_name)
        json.dumps(event)  # refused now, not in the queue
        request_id = str(uuid.uuid4())
        self._queue.submit(self._run_queued, function_name, event, request_id)
        return request_id

    def _run_queued(self, function_name: str, event: Any, request_id: str) -> None:
        try:
            result = self.invoke(function_name, event, request_id=request_id)
        except Exception as error:  # the function's log has its side; this is the runtime's
            LOG.warning("event invocation %s of %s failed: %s", request_id, function_name, error)
            return
        if result.error is not None:
            LOG.info("event invocation %s of %s: %s", request_id, function_name, result.error)

    def shutdown(self) -> None:
        """Stop every worker of every function; safe to call twice."""
        with self._lock:
            self._closed = True
            deployments, self._deployments = list(self._deployments.values()), {}
            log_files, self._log_files = list(self._log_files.values()), {}
        self._queue.shutdown(wait=False, cancel_futures=True)
        for deployment in deployments:
            deployment.pool.close()
        for log_file in log_files:
            log_file.close()
