"""Training jobs: state, status rules and the runner that plays one SageMaker training instance.

A job resolves its image to a snapshot, lays out an /opt/ml-shaped directory, downloads its
channels from S3, runs `<python> <snapshot>/bin/train`, then packs `model/` into model.tar.gz and
uploads it to `<S3OutputPath>/<job>/output/model.tar.gz`. No HTTP here.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.paths import PathEscapes, inside
from localcloud.processes import ProcessRegistry, Program
from localcloud.sagemaker.common import arn, list_page
from localcloud.sagemaker.containers import check_environment, program_environment
from localcloud.sagemaker.exceptions import ResourceInUse, ResourceNotFound, ValidationException
from localcloud.sagemaker.layout import TRAINING_LOG, ImageNotFound, StateLayout, tail
from localcloud.sagemaker.storage import S3Storage, StorageError, pack_model

FAILURE_REASON_LIMIT = 1024  # SageMaker shows the first 1024 characters of output/failure
DEFAULT_MAX_RUNTIME_SECONDS = 86400
STATUS_MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job stopped: it exceeded MaxRuntimeInSeconds",
}
ECHOED_FIELDS = (
    "HyperParameters",
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "Environment",
    "EnableNetworkIsolation",
    "VpcConfig",
)


def channel_dir(base_dir: Path, channel: str, index: int = 1) -> Path:
    """`input/data/<channel>`; a name that is not one folder inside it is refused."""
    try:
        return inside(base_dir / "input" / "data", channel)
    except PathEscapes:
        raise ValidationException(
            f"1 validation error detected: Value '{channel}' at "
            f"'inputDataConfig.{index}.member.channelName' failed to satisfy constraint: "
            "the local SageMaker writes each channel to the folder input/data/<ChannelName>, "
            "so the name must be one folder name ('.' and '..' are not)"
        ) from None


class _JobFailed(Exception):
    """Ends the runner with status Failed and this FailureReason."""


@dataclass
class TrainingJob:
    """One job's request and everything DescribeTrainingJob reports."""

    name: str
    request: dict[str, Any]
    base_dir: Path
    created: float = field(default_factory=time.time)
    status: str = "InProgress"
    secondary: str = "Starting"
    transitions: list[dict[str, Any]] = field(default_factory=list)
    failure_reason: str | None = None
    modified: float = 0.0
    training_start: float | None = None
    training_end: float | None = None
    model_artifacts: str | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)
    stop_requested: bool = False
    program: Program | None = None

    def __post_init__(self) -> None:
        self.modified = self.created
        self.transitions.append(
            {
                "Status": "Starting",
                "StartTime": self.created,
                "StatusMessage": STATUS_MESSAGES["Starting"],
            }
        )

    @property
    def arn(self) -> str:
        """TrainingJobArn."""
        return arn("training-job", self.name)

    @property
    def log_path(self) -> Path:
        """Where the program's stdout and stderr go."""
        return self.base_dir / TRAINING_LOG

    def move_to(self, secondary: str, status: str | None = None) -> None:
        """Record a SecondaryStatus transition (and a TrainingJobStatus change, if any)."""
        now = time.time()
        self.transitions[-1]["EndTime"] = now
        self.transitions.append(
            {"Status": secondary, "StartTime": now, "StatusMessage": STATUS_MESSAGES[secondary]}
        )
        if secondary in {"Completed", "Failed", "Stopped", "MaxRuntimeExceeded"}:
            self.transitions[-1]["EndTime"] = now
        self.secondary = secondary
        self.status = status or self.status
        self.modified = now

    def describe(self) -> dict[str, Any]:
        """The DescribeTrainingJob response."""
        out: dict[str, Any] = {
            "TrainingJobName": self.name,
            "TrainingJobArn": self.arn,
            "TrainingJobStatus": self.status,
            "SecondaryStatus": self.secondary,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "SecondaryStatusTransitions": [dict(t) for t in self.transitions],
        }
        if self.model_artifacts:
            out["ModelArtifacts"] = {"S3ModelArtifacts": self.model_artifacts}
        out.update({key: self.request[key] for key in ECHOED_FIELDS if key in self.request})
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        if self.training_start is not None:
            out["TrainingStartTime"] = self.training_start
        if self.training_end is not None:
            out["TrainingEndTime"] = self.training_end
            seconds = max(1, round(self.training_end - (self.training_start or self.created)))
            out["TrainingTimeInSeconds"] = out["BillableTimeInSeconds"] = seconds
        if self.metrics:
            out["FinalMetricDataList"] = [dict(m) for m in self.metrics]
        return out

    def summary(self) -> dict[str, Any]:
        """The job's entry in ListTrainingJobs."""
        out: dict[str, Any] = {
            "TrainingJobName": self.name,
            "TrainingJobArn": self.arn,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "TrainingJobStatus": self.status,
        }
        if self.training_end is not None:
            out["TrainingEndTime"] = self.training_end
        return out


class TrainingJobs:
    """All training jobs of this local SageMaker; each runs on a thread of its own."""

    def __init__(
        self,
        layout: StateLayout,
        storage: S3Storage,
        python: str,
        lock: threading.RLock,
        registry: ProcessRegistry,
    ) -> None:
        self._layout = layout
        self._registry = registry
        self._storage = storage
        self._python = python
        self._lock = lock
        self._jobs: dict[str, TrainingJob] = {}
        self._threads: list[threading.Thread] = []

    # --- actions ---------------------------------------------------------------------------
    def create(self, params: dict[str, Any]) -> TrainingJob:
        """Validate the request, register the job and start running it."""
        name = params["TrainingJobName"]
        algorithm = params["AlgorithmSpecification"]
        if not algorithm.get("TrainingImage"):
            raise ValidationException(
                "The local SageMaker runs bring-your-own-container jobs only: "
                "AlgorithmSpecification.TrainingImage is required"
            )
        for definition in algorithm.get("MetricDefinitions", []):
            try:
                re.compile(definition["Regex"])
            except re.error as error:
                raise ValidationException(
                    f"Invalid regex {definition['Regex']!r} for metric "
                    f"{definition.get('Name')!r}: {error}"
                ) from None
        check_environment(params.get("Environment", {}), "environment")
        base_dir = self._layout.training_job_dir(name)
        for index, channel in enumerate(params.get("InputDataConfig", []), start=1):
            channel_dir(base_dir, channel["ChannelName"], index)
        with self._lock:
            if name in self._jobs:
                raise ResourceInUse(
                    "Training job names must be unique within an AWS account and region, and a "
                    f"training job with this name already exists ({self._jobs[name].arn})"
                )
            job = TrainingJob(name, params, base_dir)
            self._jobs[name] = job
        thread = threading.Thread(target=self._run, args=(job,), name=f"train-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()
        return job

    def describe(self, name: str) -> dict[str, Any]:
        """DescribeTrainingJob."""
        with self._lock:
            return self._get(name).describe()

    def stop(self, name: str) -> None:
        """StopTrainingJob: status Stopping, the program stopped; the runner then ends Stopped."""
        with self._lock:
            job = self._get(name)
            if job.status != "InProgress":
                raise ValidationException(
                    f"The request was rejected because the training job is in status {job.status}."
                )
            job.stop_requested = True
            job.move_to("Stopping", "Stopping")
            program = job.program
        if program is not None:  # SIGTERM, and SIGKILL if it is still running after the grace
            threading.Thread(target=program.stop, name=f"stop-{name}", daemon=True).start()

    def list(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListTrainingJobs."""
        with self._lock:
            summaries = [job.summary() for job in self._jobs.values()]
        page, token = list_page(
            summaries,
            params,
            name_key="TrainingJobName",
            status_key="TrainingJobStatus",
            sort_keys={
                "Name": "TrainingJobName",
                "CreationTime": "CreationTime",
                "Status": "TrainingJobStatus",
            },
        )
        return {"TrainingJobSummaries": page, **({"NextToken": token} if token else {})}

    def shutdown(self) -> None:
        """Stop every running program and wait for the runners to finish."""
        with self._lock:
            programs = []
            for job in self._jobs.values():
                if job.status in {"InProgress", "Stopping"}:
                    job.stop_requested = True
                    if job.program is not None:
                        job.program.send_stop()
                        programs.append(job.program)
        for program in programs:
            program.stop()
        for thread in self._threads:
            thread.join()

    def _get(self, name: str) -> TrainingJob:
        job = self._jobs.get(name)
        if job is None:
            raise ResourceNotFound("Requested resource not found.")
        return job

    # --- the runner ------------------------------------------------------------------------
    def _run(self, job: TrainingJob) -> None:
        try:
            self._execute(job)
        except _JobFailed as failure:
            self._finish(job, "Failed", str(failure))
        except (ImageNotFound, StorageError) as error:
            self._finish(job, "Failed", f"ClientError: {error}")
        except Exception as error:  # a job must end visibly, whatever broke
            self._finish(job, "Failed", f"InternalServerError: {type(error).__name__}: {error}")

    def _finish(self, job: TrainingJob, secondary: str, reason: str | None = None) -> None:
        status = {"MaxRuntimeExceeded": "Stopped"}.get(secondary, secondary)
        with self._lock:
            if job.training_start is not None and job.training_end is None:
                job.training_end = time.time()
            if reason:
                job.failure_reason = reason[:FAILURE_REASON_LIMIT]
            job.move_to(secondary, status)

    def _execute(self, job: TrainingJob) -> None:
        request = job.request
        snapshot = self._layout.resolve_image(
            request["AlgorithmSpecification"]["TrainingImage"], "train"
        )
        self._write_config(job)
        channels = request.get("InputDataConfig", [])
        if not self._advance(job, "Downloading"):
            return
        for channel in channels:
            source = channel["DataSource"].get("S3DataSource")
            if source is None or source.get("S3DataType", "S3Prefix") != "S3Prefix":
                raise _JobFailed(
                    f"ClientError: channel {channel['ChannelName']}: the local SageMaker reads "
                    "S3DataSource with S3DataType S3Prefix only"
                )
            target = channel_dir(job.base_dir, channel["ChannelName"])
            self._storage.download_prefix(source["S3Uri"], target)
        if not self._advance(job, "Training"):
            return
        program = self._start_program(job, snapshot)
        if program is None:
            self._finish(job, "Stopped")
            return
        max_runtime = request.get("StoppingCondition", {}).get(
            "MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME_SECONDS
        )
        timed_out = not program.exited.wait(max(0.0, job.created + max_runtime - time.time()))
        if timed_out:
            program.stop()
        self._collect_metrics(job)
        if timed_out:
            self._finish(
                job,
                "MaxRuntimeExceeded",
                f"MaxRuntimeExceeded: Training job exceeded MaxRuntimeInSeconds provided "
                f"({max_runtime} seconds)",
            )
        elif job.stop_requested:
            self._finish(job, "Stopped")
        elif program.returncode != 0:
            raise _JobFailed(self._failure_reason(job, program.returncode))
        else:
            self._upload_model(job)

    def _advance(self, job: TrainingJob, secondary: str) -> bool:
        """Move on to the next phase unless a stop was asked for (then end Stopped)."""
        with self._lock:
            if job.stop_requested:
                stopped = True
            else:
                stopped = False
                job.move_to(secondary)
                if secondary == "Training":
                    job.training_start = time.time()
        if stopped:
            self._finish(job, "Stopped")
        return not stopped

    def _write_config(self, job: TrainingJob) -> None:
        request = job.request
        if job.base_dir.exists():  # left by an earlier run of the local cloud
            shutil.rmtree(job.base_dir)
        config = job.base_dir / "input" / "config"
        for directory in (config, job.base_dir / "model", job.base_dir / "output" / "data"):
            directory.mkdir(parents=True)
        channels = {
            channel["ChannelName"]: {
                key: value
                for key, value in {
                    "ContentType": channel.get("ContentType"),
                    "TrainingInputMode": channel.get("InputMode")
                    or request["AlgorithmSpecification"].get("TrainingInputMode", "File"),
                    "S3DistributionType": channel["DataSource"]
                    .get("S3DataSource", {})
                    .get("S3DataDistributionType", "FullyReplicated"),
                    "RecordWrapperType": channel.get("RecordWrapperType", "None"),
                }.items()
                if value is not None
            }
            for channel in request.get("InputDataConfig", [])
        }
        instance_type = request.get("ResourceConfig", {}).get("InstanceType", "local")
        resources = {
            "current_host": "algo-1",
            "current_instance_type": instance_type,
            "current_group_name": "homogeneousCluster",
            "hosts": ["algo-1"],
            "instance_groups": [
                {
                    "instance_group_name": "homogeneousCluster",
                    "instance_type": instance_type,
                    "hosts": ["algo-1"],
                }
            ],
            "network_interface_name": "eth0",
        }
        files = {
            "hyperparameters.json": request.get("HyperParameters", {}),
            "inputdataconfig.json": channels,
            "resourceconfig.json": resources,
        }
        for filename, content in files.items():
            (config / filename).write_text(json.dumps(content, indent=2))

    def _start_program(self, job: TrainingJob, snapshot: Path) -> Program | None:
        env = program_environment(
            snapshot,
            job.base_dir,
            job.request.get("Environment", {}),
            {"TRAINING_JOB_NAME": job.name, "TRAINING_JOB_ARN": job.arn},
        )
        argv = [self._python, str(snapshot / "bin" / "train")]
        with self._lock:  # a StopTrainingJob either sees the program or prevents it
            if job.stop_requested:
                return None
            job.program = Program(
                argv,
                env=env,
                cwd=job.base_dir,
                log_path=job.log_path,
                what=f"training job {job.name}",
                registry=self._registry,
            )
            return job.program

    def _failure_reason(self, job: TrainingJob, returncode: int | None) -> str:
        failure = job.base_dir / "output" / "failure"
        if failure.is_file():
            reason = failure.read_text(errors="replace").strip()
            if reason:
                return reason
        return (
            f"AlgorithmError: train exited with code {returncode} and wrote no output/failure. "
            f"Log tail: {tail(job.log_path, 800)}"
        )

    def _collect_metrics(self, job: TrainingJob) -> None:
        definitions = job.request["AlgorithmSpecification"].get("MetricDefinitions", [])
        if not definitions or not job.log_path.is_file():
            return
        patterns = [(d["Name"], re.compile(d["Regex"])) for d in definitions]
        final: dict[str, float] = {}
        for line in job.log_path.read_text(errors="replace").splitlines():
            for metric, pattern in patterns:
                match = pattern.search(line)
                if match:
                    try:
                        final[metric] = float(match.group(1))
                    except (IndexError, ValueError):
                        continue
        now = time.time()
        with self._lock:
            job.metrics = [
                {"MetricName": metric, "Value": value, "Timestamp": now}
                for metric, value in final.items()
            ]

    def _upload_model(self, job: TrainingJob) -> None:
        if not self._advance(job, "Uploading"):
            return
        archive = job.base_dir / "output" / "model.tar.gz"
        pack_model(job.base_dir / "model", archive)
        output_path = job.request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        uri = f"{output_path}/{job.name}/output/model.tar.gz"
        self._storage.upload_file(archive, uri)
        with self._lock:
            job.model_artifacts = uri
        self._finish(job, "Completed")
