"""The runner that plays a transform job's instances: the model's container in batch mode.

Each instance is one `serve` process started with `SAGEMAKER_BATCH=true` and the job's batch
variables, on its own port. Once it answers GET /ping, the settings the request left unset come
from its GET /execution-parameters, then SageMaker's defaults. Input objects are shared out to
the instances by S3 key; each object's mini-batches (`transform_batches`) go to the container
`MaxConcurrentTransforms` at a time, their answers are written in input order to a local file
(`AssembleWith: Line` ends each record with a newline), and only a whole object's output is
uploaded, as `<S3OutputPath>/<path below the input prefix>.out` (multipart when large, SSE-KMS
with the output's key). An object that fails gets no `.out`, the others go on; the job then
fails naming the object and the line that broke it. The containers' output goes to CloudWatch
Logs, group `/aws/sagemaker/TransformJobs`, stream `<job>/<instance id>`.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import urllib3
from botocore.exceptions import BotoCoreError, ClientError

from localcloud.background import free_port
from localcloud.processes import ProcessRegistry, Program
from localcloud.sagemaker.clients import AwsClients
from localcloud.sagemaker.common import FAILURE_REASON_LIMIT, Settings
from localcloud.sagemaker.containers import program_environment
from localcloud.sagemaker.data_processing import DataProcessing, RecordError
from localcloud.sagemaker.hosting import Model
from localcloud.sagemaker.layout import ImageNotFound, StateLayout, tail
from localcloud.sagemaker.logs import follow, instance_id
from localcloud.sagemaker.serving import (
    LOOPBACK,
    ContainerUnreachable,
    DeploymentCancelled,
    Instance,
    wait_healthy,
)
from localcloud.sagemaker.storage import S3Storage, StorageError, parse_s3_uri
from localcloud.sagemaker.transform_batches import (
    MEGABYTE,
    MiniBatch,
    ObjectFailed,
    byte_batches,
    record_batches,
    whole_object,
)
from localcloud.sagemaker.transform_job import TransformJob

TRANSFORM_LOG_GROUP = "/aws/sagemaker/TransformJobs"
TRANSFORM_LOG = "transform.log"
OUTPUT_SUFFIX = ".out"
DEFAULTS = {"MaxConcurrentTransforms": 1, "MaxPayloadInMB": 6, "BatchStrategy": "MultiRecord"}
STRATEGIES = {"MULTI_RECORD": "MultiRecord", "SINGLE_RECORD": "SingleRecord"}
DEFAULT_INVOCATION_TIMEOUT = 600
DEFAULT_INVOCATION_RETRIES = 3
# The container's own wording of a bad record: "row 3, column x: ..." or "line 2: ..."
_RECORD_IN_ERROR = re.compile(r"^(?:row|line) (\d+)\b[,:]?\s*")


class _JobFailed(Exception):
    """Ends the job with status Failed and this FailureReason."""


@dataclass(frozen=True)
class InputObject:
    """One object of the input and where its output goes."""

    bucket: str
    key: str
    output_uri: str

    @property
    def uri(self) -> str:
        """s3://bucket/key."""
        return f"s3://{self.bucket}/{self.key}"


class TransformRunner:
    """Runs transform jobs, each on the thread that calls `run`."""

    def __init__(
        self,
        layout: StateLayout,
        storage: S3Storage,
        python: str,
        settings: Settings,
        lock: threading.RLock,
        registry: ProcessRegistry,
        clients: AwsClients,
    ) -> None:
        self._layout = layout
        self._storage = storage
        self._python = python
        self._settings = settings
        self._lock = lock
        self._registry = registry
        self._clients = clients

    def run(self, job: TransformJob, model: Model, on_end: Callable[[TransformJob], None]) -> None:
        """Run the job to Completed, Failed or Stopped, whatever breaks on the way."""
        instances: list[Instance] = []
        try:
            with self._lock:
                job.started = time.time()
            status, reason = self._execute(job, model, instances)
        except _JobFailed as failure:
            status, reason = "Failed", str(failure)
        except (ImageNotFound, StorageError) as error:
            status, reason = "Failed", f"ClientError: {error}"
        except DeploymentCancelled:
            status, reason = "Stopped", None
        except Exception as error:  # a job must end visibly, whatever broke
            status, reason = "Failed", f"InternalServerError: {type(error).__name__}: {error}"
        finally:
            for instance in instances:
                instance.program.stop()
                instance.close()
            shutil.rmtree(job.base_dir / "model", ignore_errors=True)
        if job.stop_requested:
            status, reason = "Stopped", None
        with self._lock:
            job.end(status, reason[:FAILURE_REASON_LIMIT] if reason else None)
        on_end(job)

    def _execute(
        self, job: TransformJob, model: Model, instances: list[Instance]
    ) -> tuple[str, str | None]:
        request = job.request
        objects = self._input_objects(request)
        snapshot = self._layout.resolve_image(model.container["Image"], "serve")
        if data_url := model.container.get("ModelDataUrl"):
            self._storage.extract_model(data_url, job.base_dir / "model")
        else:
            (job.base_dir / "model").mkdir(parents=True, exist_ok=True)
        count = request["TransformResources"]["InstanceCount"]
        for _ in range(count):
            instances.append(self._start_instance(job, model, snapshot))
        with self._lock:
            job.resolved = self._settings_of(request, instances[0])
        failures: list[str] = []
        threads = [
            threading.Thread(
                target=self._transform_share,
                args=(job, instance, objects[index::count], failures),
                name=f"transform-{job.name}-{index}",
                daemon=True,
            )
            for index, instance in enumerate(instances)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if job.stop_requested:
            return "Stopped", None
        if failures:
            failed = len(failures)
            more = f" ({failed} of {len(objects)} input objects failed)" if failed > 1 else ""
            return "Failed", f"ClientError: {sorted(failures)[0]}{more}"
        return "Completed", None

    # --- input objects -----------------------------------------------------------------------
    def _input_objects(self, request: dict[str, Any]) -> list[InputObject]:
        """Every object under the S3Prefix, in key order, with its output URI."""
        uri = request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
        bucket, prefix = parse_s3_uri(uri)
        output_path = request["TransformOutput"]["S3OutputPath"].rstrip("/")
        # The sub-path below the prefix's last "/" is kept: in/a/b.csv -> out/a/b.csv.out.
        base = prefix[: prefix.rfind("/") + 1]
        try:
            keys = self._storage.object_keys(uri)
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"Could not list {uri}: {error}") from error
        return [
            InputObject(bucket, key, f"{output_path}/{key[len(base) :]}{OUTPUT_SUFFIX}")
            for key in keys
        ]

    # --- containers ----------------------------------------------------------------------------
    def _start_instance(self, job: TransformJob, model: Model, snapshot: Path) -> Instance:
        """One serve process in batch mode, answering GET /ping."""
        request = job.request
        port = free_port()
        batch_variables = {"SAGEMAKER_BATCH": "true"}
        if "MaxPayloadInMB" in request:
            batch_variables["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(request["MaxPayloadInMB"])
        if "BatchStrategy" in request:
            strategy = {v: k for k, v in STRATEGIES.items()}[request["BatchStrategy"]]
            batch_variables["SAGEMAKER_BATCH_STRATEGY"] = strategy
        if "MaxConcurrentTransforms" in request and request["MaxConcurrentTransforms"] > 0:
            concurrency = str(request["MaxConcurrentTransforms"])
            batch_variables["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = concurrency
        requested = {**model.container.get("Environment", {}), **request.get("Environment", {})}
        own = {"SAGEMAKER_BIND_TO_PORT": str(port), "MODEL_SERVER_HOST": LOOPBACK}
        if "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS" not in batch_variables:
            own["SAGEMAKER_MODEL_SERVER_WORKERS"] = requested.get(
                "SAGEMAKER_MODEL_SERVER_WORKERS", str(self._settings.default_workers)
            )
        env = program_environment(snapshot, job.base_dir, {**requested, **batch_variables}, own)
        log_path = job.base_dir / TRANSFORM_LOG
        offset = log_path.stat().st_size if log_path.is_file() else 0
        with self._lock:
            if job.stop_requested:
                raise DeploymentCancelled
            program = Program(
                [self._python, str(snapshot / "bin" / "serve")],
                env=env,
                cwd=job.base_dir,
                log_path=log_path,
                what=f"transform job {job.name}",
                registry=self._registry,
            )
            job.programs.append(program)
        timeout = request.get("ModelClientConfig", {}).get(
            "InvocationsTimeoutInSeconds", DEFAULT_INVOCATION_TIMEOUT
        )
        instance = Instance(program, port, timeout)
        follow(
            self._clients.client("logs"),
            program,
            TRANSFORM_LOG_GROUP,
            f"{job.name}/{instance_id()}",
            offset,
        )
        problem = wait_healthy(instance, self._settings.health_timeout, lambda: job.stop_requested)
        if problem is not None:
            program.stop()
            instance.close()
            raise _JobFailed(
                f"ClientError: The container of model {model.name} {problem}. "
                f"Log tail: {tail(log_path, 700)}"
            )
        return instance

    def _settings_of(self, request: dict[str, Any], instance: Instance) -> dict[str, Any]:
        """The request's settings, then the container's /execution-parameters, then defaults."""
        offered: dict[str, Any] = {}
        try:
            response = instance.pool.request("GET", "/execution-parameters", retries=False)
            if response.status == 200:
                offered = json.loads(response.data)
        except (urllib3.exceptions.HTTPError, ValueError):
            offered = {}
        offered = offered if isinstance(offered, dict) else {}
        if "BatchStrategy" in offered:
            offered["BatchStrategy"] = STRATEGIES.get(str(offered["BatchStrategy"]))
        chosen: dict[str, Any] = {}
        for key, default in DEFAULTS.items():
            value = request.get(key) or offered.get(key) or default
            chosen[key] = value
        if not isinstance(chosen["MaxConcurrentTransforms"], int) or not isinstance(
            chosen["MaxPayloadInMB"], int
        ):
            raise _JobFailed(
                f"ClientError: the container's /execution-parameters answer is not valid: {offered}"
            )
        if chosen["MaxPayloadInMB"] > 100:
            chosen["MaxPayloadInMB"] = 100
        return chosen

    # --- objects -----------------------------------------------------------------------------
    def _transform_share(
        self,
        job: TransformJob,
        instance: Instance,
        objects: list[InputObject],
        failures: list[str],
    ) -> None:
        """This instance's objects, one after the other; a failed one is noted, the rest go on."""
        for item in objects:
            if job.stop_requested:
                return
            try:
                self._transform_object(job, instance, item)
            except ObjectFailed as failure:
                if not job.stop_requested:
                    failures.append(f"{item.uri}: {failure}")

    def _transform_object(self, job: TransformJob, instance: Instance, item: InputObject) -> None:
        """One object's mini-batches through the container, then its whole output to S3."""
        settings = job.resolved
        request = job.request
        processing = job.processing
        line_ends = request["TransformOutput"].get("AssembleWith", "None") == "Line"
        headers = {"Content-Type": request["TransformInput"].get("ContentType", "")}
        if accept := request["TransformOutput"].get("Accept"):
            headers["Accept"] = accept
        retries = request.get("ModelClientConfig", {}).get(
            "InvocationsMaxRetries", DEFAULT_INVOCATION_RETRIES
        )
        concurrency = settings["MaxConcurrentTransforms"]
        part = job.base_dir / "output" / f"{PurePosixPath(item.key).name}.{threading.get_ident()}"
        part.parent.mkdir(parents=True, exist_ok=True)
        try:
            with ExitStack() as stack:
                stream = stack.enter_context(self._open(item, request))
                out = stack.enter_context(part.open("wb"))
                pool = stack.enter_context(ThreadPoolExecutor(concurrency))
                window: deque[tuple[MiniBatch, Future[bytes]]] = deque()

                def send(batch: MiniBatch) -> bytes:
                    return self._invoke(job, instance, batch, headers, retries)

                for batch in self._batches(stream, settings, request, processing):
                    if job.stop_requested:
                        raise ObjectFailed("stopped")
                    window.append((batch, pool.submit(send, batch)))
                    if len(window) >= concurrency:
                        self._write(out, *window.popleft(), processing, line_ends)
                while window:
                    self._write(out, *window.popleft(), processing, line_ends)
            if job.stop_requested:
                raise ObjectFailed("stopped")
            kms = request["TransformOutput"].get("KmsKeyId", "")
            self._storage.upload_file(part, item.output_uri, kms)
        except StorageError as error:
            raise ObjectFailed(str(error)) from None
        finally:
            part.unlink(missing_ok=True)

    def _open(self, item: InputObject, request: dict[str, Any]) -> Any:
        """The object's bytes as a stream, decompressed for CompressionType Gzip."""
        try:
            body = self._storage.client.get_object(Bucket=item.bucket, Key=item.key)["Body"]
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"Could not download {item.uri}: {error}") from error
        if request["TransformInput"].get("CompressionType", "None") == "Gzip":
            return _Gzipped(body)
        return closing(body)

    @staticmethod
    def _batches(
        stream: BinaryIO,
        settings: dict[str, Any],
        request: dict[str, Any],
        processing: DataProcessing,
    ) -> Iterator[MiniBatch]:
        limit = settings["MaxPayloadInMB"] * MEGABYTE
        try:
            if request["TransformInput"].get("SplitType", "None") == "None":
                yield from whole_object(stream, limit)
            elif settings["BatchStrategy"] == "MultiRecord" and not processing.per_record:
                yield from byte_batches(stream, limit)
            else:
                single = settings["BatchStrategy"] == "SingleRecord"
                yield from record_batches(stream, limit, single, processing.filter_input)
        except (OSError, EOFError, gzip.BadGzipFile) as error:
            raise ObjectFailed(f"the object could not be read: {error}") from None
        except RecordError as error:
            raise ObjectFailed(str(error)) from None

    def _invoke(
        self,
        job: TransformJob,
        instance: Instance,
        batch: MiniBatch,
        headers: dict[str, str],
        retries: int,
    ) -> bytes:
        """POST /invocations for one mini-batch; retried on 5xx or no answer, up to `retries`."""
        problem = ""
        for _ in range(retries + 1):
            if job.stop_requested:
                raise ObjectFailed("stopped")
            try:
                status, _, body = instance.forward(batch.body, headers)
            except ContainerUnreachable as error:
                problem = f"no answer from the container: {error}"
                continue
            if status == 200:
                return body
            message = _container_message(body)
            if status < 500:
                raise ObjectFailed(_worded(batch, status, message))
            problem = f"the container answered {status}: {message}"
        where = _span(batch)
        raise ObjectFailed(f"{where}: {problem} (after {retries + 1} attempts)")

    @staticmethod
    def _write(
        out: BinaryIO,
        batch: MiniBatch,
        answer: Future[bytes],
        processing: DataProcessing,
        line_ends: bool,
    ) -> None:
        """One mini-batch's answer, in order; joined and filtered record by record if asked."""
        body = answer.result()
        if not processing.per_record:
            out.write(body.rstrip(b"\n") + b"\n" if line_ends else body)
            return
        predictions = body.rstrip(b"\n").split(b"\n") if len(batch.records) > 1 else [body]
        if len(predictions) != len(batch.records):
            raise ObjectFailed(
                f"{_span(batch)}: the container answered {len(predictions)} lines for "
                f"{len(batch.records)} records, so its answers cannot be joined to them"
            )
        for line, record, prediction in zip(batch.lines, batch.records, predictions, strict=True):
            try:
                out.write(processing.output(record, prediction.rstrip(b"\r\n")) + b"\n")
            except RecordError as error:
                raise ObjectFailed(f"line {line}: {error}") from None


class _Gzipped:
    """A gzip stream over a download that is closed with it."""

    def __init__(self, body: Any) -> None:
        self._body = body
        self._file = gzip.GzipFile(fileobj=body)

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def __enter__(self) -> _Gzipped:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()
        self._body.close()


def _container_message(body: bytes) -> str:
    """The container's error text: its JSON "error"/"message", else the body itself."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        document = json.loads(text)
    except ValueError:
        return text[:500]
    if isinstance(document, dict):
        for key in ("error", "message", "Message"):
            if isinstance(document.get(key), str):
                return document[key]
    return text[:500]


def _span(batch: MiniBatch) -> str:
    first, last = batch.first_line, batch.last_line
    return f"line {first}" if first == last else f"lines {first}-{last}"


def _worded(batch: MiniBatch, status: int, message: str) -> str:
    """A 4xx answer as "line 17: <the container's words>" when it names a record."""
    found = _RECORD_IN_ERROR.match(message)
    if found:
        line = batch.line_of_record(int(found.group(1)) - 1)
        return f"line {line}: {message[found.end() :]}"
    return f"{_span(batch)}: the container answered {status}: {message}"
