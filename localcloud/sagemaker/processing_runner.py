"""The runner that plays one SageMaker processing instance for a processing job.

It resolves the image to a snapshot and the command to one of its programs (`bin/<name>`: the
Dockerfile has no ENTRYPOINT, so the command is ContainerEntrypoint + ContainerArguments, or
the arguments alone), lays out the job's /opt/ml, writes `processingjobconfig.json` (to
`config/` where sample containers read it and to `processing/` where the developer guide puts
it), downloads each input to its LocalPath, runs the program (output followed into CloudWatch
Logs, group `/aws/sagemaker/ProcessingJobs`, stream `<job>/algo-1-<epoch seconds>`), and then
uploads each output's LocalPath to its S3Uri (SSE-KMS with the output config's KmsKeyId).
`Continuous` outputs are uploaded once, at the end, like `EndOfJob` ones: the objects are the
same, only sooner on AWS. `output/message` becomes ExitMessage; a non-zero exit fails the job
with `output/failure` (or the message, or the log's tail) as the reason.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path, PurePosixPath
from typing import Any

from localcloud.processes import ProcessRegistry, Program
from localcloud.sagemaker.clients import AwsClients
from localcloud.sagemaker.common import FAILURE_REASON_LIMIT
from localcloud.sagemaker.containers import program_environment
from localcloud.sagemaker.exceptions import ValidationException
from localcloud.sagemaker.layout import ImageNotFound, StateLayout, tail
from localcloud.sagemaker.logs import PROCESSING_LOG_GROUP, follow, job_stream
from localcloud.sagemaker.processing_job import ProcessingJob, local_path, mapped_value
from localcloud.sagemaker.storage import S3Storage, StorageError

PROGRAM_DIR = PurePosixPath("/opt/program/bin")  # where the Dockerfile puts the programs
EXIT_MESSAGE_LIMIT = 1024


class _JobFailed(Exception):
    """Ends the runner with status Failed and this FailureReason."""


def command_of(app: dict[str, Any]) -> tuple[str, list[str]]:
    """(program name, its arguments) from an AppSpecification, as the image would run them."""
    command = [*app.get("ContainerEntrypoint", []), *app.get("ContainerArguments", [])]
    if not command:
        raise ValidationException(
            "AppSpecification needs ContainerEntrypoint (or ContainerArguments) naming the "
            'program to run: the image has no ENTRYPOINT, e.g. ["monitor"]'
        )
    first = PurePosixPath(command[0])
    name = first.name if first.parent == PROGRAM_DIR else command[0]
    if "/" in name or name in {"", ".", ".."}:
        raise ValidationException(
            f"AppSpecification.ContainerEntrypoint {command[0]!r}: the local SageMaker runs the "
            f"image's own programs, by name or as {PROGRAM_DIR}/<name>"
        )
    return name, command[1:]


class ProcessingRunner:
    """Runs processing jobs, each on the thread that calls `run`."""

    def __init__(
        self,
        layout: StateLayout,
        storage: S3Storage,
        python: str,
        lock: threading.RLock,
        registry: ProcessRegistry,
        clients: AwsClients,
    ) -> None:
        self._layout = layout
        self._storage = storage
        self._python = python
        self._lock = lock
        self._registry = registry
        self._clients = clients

    def run(self, job: ProcessingJob) -> None:
        """Run the job to its end: Completed, Failed or Stopped, whatever breaks on the way."""
        try:
            self._execute(job)
        except _JobFailed as failure:
            self._finish(job, "Failed", str(failure))
        except (ImageNotFound, StorageError) as error:
            self._finish(job, "Failed", f"ClientError: {error}")
        except Exception as error:  # a job must end visibly, whatever broke
            self._finish(job, "Failed", f"InternalServerError: {type(error).__name__}: {error}")

    def _finish(self, job: ProcessingJob, status: str, reason: str | None = None) -> None:
        with self._lock:
            if job.stop_requested and status != "Completed":
                status, reason = "Stopped", None
            job.finish(status, reason[:FAILURE_REASON_LIMIT] if reason else None)

    def _execute(self, job: ProcessingJob) -> None:
        request = job.request
        name, arguments = command_of(request["AppSpecification"])
        snapshot = self._layout.resolve_image(request["AppSpecification"]["ImageUri"], name)
        if job.base_dir.exists():  # left by an earlier run of the local cloud
            shutil.rmtree(job.base_dir)
        (job.base_dir / "output").mkdir(parents=True)
        self._write_config(job)
        for item in request.get("ProcessingInputs", []):
            source = item["S3Input"]
            target = local_path(job.base_dir, source["LocalPath"], "LocalPath")
            self._storage.download_prefix(source["S3Uri"], target)
        for item in request.get("ProcessingOutputConfig", {}).get("Outputs", []):
            local_path(job.base_dir, item["S3Output"]["LocalPath"], "LocalPath").mkdir(
                parents=True, exist_ok=True
            )
        program = self._start_program(job, snapshot, name, arguments)
        if program is None:
            self._finish(job, "Stopped")
            return
        timed_out = not program.exited.wait(max(0.0, job.created + job.max_runtime - time.time()))
        if timed_out:
            program.stop()
        self._read_exit_message(job)
        if job.stop_requested:
            self._finish(job, "Stopped")
        elif timed_out:
            raise _JobFailed(
                "MaxRuntimeExceeded: Processing job exceeded MaxRuntimeInSeconds provided "
                f"({job.max_runtime} seconds)"
            )
        elif program.returncode != 0:
            raise _JobFailed(self._failure_reason(job, name, program.returncode))
        else:
            self._upload_outputs(job)
            self._finish(job, "Completed")

    def _write_config(self, job: ProcessingJob) -> None:
        config = {
            "ProcessingJobName": job.name,
            "ProcessingJobArn": job.arn,
            **{key: job.request[key] for key in job.describe() if key in job.request},
        }
        for folder in ("config", "processing"):
            (job.base_dir / folder).mkdir(parents=True, exist_ok=True)
            (job.base_dir / folder / "processingjobconfig.json").write_text(
                json.dumps(config, indent=2)
            )

    def _start_program(
        self, job: ProcessingJob, snapshot: Path, name: str, arguments: list[str]
    ) -> Program | None:
        requested = {
            key: mapped_value(job.base_dir, value)
            for key, value in job.request.get("Environment", {}).items()
        }
        env = program_environment(snapshot, job.base_dir, requested, {})
        argv = [self._python, str(snapshot / "bin" / name), *arguments]
        with self._lock:  # a StopProcessingJob either sees the program or prevents it
            if job.stop_requested:
                return None
            job.started = time.time()
            job.program = Program(
                argv,
                env=env,
                cwd=job.base_dir,
                log_path=job.log_path,
                what=f"processing job {job.name}",
                registry=self._registry,
            )
            program = job.program
        follow(
            self._clients.client("logs"),
            program,
            PROCESSING_LOG_GROUP,
            job_stream(job.name),
            0,
        )
        return program

    def _read_exit_message(self, job: ProcessingJob) -> None:
        message = job.base_dir / "output" / "message"
        if message.is_file():
            text = message.read_text(errors="replace").strip()
            with self._lock:
                job.exit_message = text[:EXIT_MESSAGE_LIMIT] or None

    def _failure_reason(self, job: ProcessingJob, name: str, returncode: int | None) -> str:
        failure = job.base_dir / "output" / "failure"
        if failure.is_file() and (reason := failure.read_text(errors="replace").strip()):
            return f"AlgorithmError: {reason}"
        if job.exit_message:
            return f"AlgorithmError: {job.exit_message}"
        return (
            f"AlgorithmError: {name} exited with code {returncode} and wrote no output/failure. "
            f"Log tail: {tail(job.log_path, 800)}"
        )

    def _upload_outputs(self, job: ProcessingJob) -> None:
        config = job.request.get("ProcessingOutputConfig", {})
        for item in config.get("Outputs", []):
            output = item["S3Output"]
            folder = local_path(job.base_dir, output["LocalPath"], "LocalPath")
            self._storage.upload_tree(folder, output["S3Uri"], config.get("KmsKeyId", ""))
