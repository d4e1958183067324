"""The runner that plays one SageMaker training instance for a training job.

It resolves the job's image to a snapshot, lays out an /opt/ml-shaped directory, downloads the
channels from S3, runs `<python> <snapshot>/bin/train` (its output followed into CloudWatch Logs),
then packs `model/` into model.tar.gz and uploads it to `<S3OutputPath>/<job>/output/model.tar.gz`
(SSE-KMS with OutputDataConfig.KmsKeyId). With Debugger asked for, it writes the hook's
configuration and uploads its output (`debugger`) and samples the program (`profiler`). Status
changes go through the record.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from pathlib import Path

from localcloud.processes import ProcessRegistry, Program
from localcloud.sagemaker.clients import AwsClients
from localcloud.sagemaker.common import FAILURE_REASON_LIMIT
from localcloud.sagemaker.containers import program_environment
from localcloud.sagemaker.debugger import (
    CONFIG_FILE_ENV,
    HOOK_CONFIG_FILE,
    debug_output_uri,
    hook_file,
    local_dir,
)
from localcloud.sagemaker.layout import ImageNotFound, StateLayout, tail
from localcloud.sagemaker.logs import TRAINING_LOG_GROUP, follow, job_stream
from localcloud.sagemaker.profiler import (
    DEFAULT_PROFILING_INTERVAL_MS,
    SystemMonitor,
    profiling_enabled,
    system_output_uri,
)
from localcloud.sagemaker.storage import S3Storage, StorageError, pack_model
from localcloud.sagemaker.training_job import DEFAULT_MAX_RUNTIME_SECONDS, TrainingJob, channel_dir


class _JobFailed(Exception):
    """Ends the runner with status Failed and this FailureReason."""


class TrainingRunner:
    """Runs training jobs, each on the thread that calls `run`."""

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
        self._clients = clients
        self._storage = storage
        self._python = python
        self._lock = lock
        self._registry = registry

    def run(self, job: TrainingJob) -> None:
        """Run the job to its end: Completed, Failed or Stopped, whatever breaks on the way."""
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
            target = channel_dir(job.base_dir, channel["ChannelName"])
            self._storage.download_prefix(channel["DataSource"]["S3DataSource"]["S3Uri"], target)
        if not self._advance(job, "Training"):
            return
        program = self._start_program(job, snapshot)
        if program is None:
            self._finish(job, "Stopped")
            return
        max_runtime = request.get("StoppingCondition", {}).get(
            "MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME_SECONDS
        )
        monitor = self._start_monitor(job, program)
        timed_out = not program.exited.wait(max(0.0, job.created + max_runtime - time.time()))
        if timed_out:
            program.stop()
        self._save_debugger_output(job, monitor)
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
        if "DebugHookConfig" in request:
            files[HOOK_CONFIG_FILE] = hook_file(request["DebugHookConfig"], job.base_dir, job.name)
        for filename, content in files.items():
            (config / filename).write_text(json.dumps(content, indent=2))

    def _start_program(self, job: TrainingJob, snapshot: Path) -> Program | None:
        own = {"TRAINING_JOB_NAME": job.name, "TRAINING_JOB_ARN": job.arn}
        if "DebugHookConfig" in job.request:  # /opt/ml is not where smdebug looks by default
            own[CONFIG_FILE_ENV] = str(job.base_dir / "input" / "config" / HOOK_CONFIG_FILE)
        env = program_environment(snapshot, job.base_dir, job.request.get("Environment", {}), own)
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
            program = job.program
        follow(self._clients.client("logs"), program, TRAINING_LOG_GROUP, job_stream(job.name), 0)
        return program

    def _start_monitor(self, job: TrainingJob, program: Program) -> SystemMonitor | None:
        if not profiling_enabled(job.request):
            return None
        config = job.request["ProfilerConfig"]
        return SystemMonitor(
            program.pid,
            config.get("ProfilingIntervalInMilliseconds", DEFAULT_PROFILING_INTERVAL_MS),
            system_output_uri(config["S3OutputPath"], job.name),
            self._storage.put_bytes,
        )

    def _save_debugger_output(self, job: TrainingJob, monitor: SystemMonitor | None) -> None:
        """The profiler's last file and the hook's output, uploaded once the program has ended."""
        if monitor is not None:
            monitor.stop()
        hook = job.request.get("DebugHookConfig")
        if hook is not None:
            self._storage.upload_tree(
                local_dir(job.base_dir, hook), debug_output_uri(hook, job.name)
            )

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
        kms_key_id = job.request["OutputDataConfig"].get("KmsKeyId", "")
        self._storage.upload_file(archive, job.model_artifacts, kms_key_id)
        self._finish(job, "Completed")
