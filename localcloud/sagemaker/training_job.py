"""A training job's record: its request and everything DescribeTrainingJob reports, no work.

The status rules live here (`move_to`); `training_runner` does the work, `training_jobs` holds
the jobs and answers the actions.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.paths import PathEscapes, inside
from localcloud.processes import Program
from localcloud.sagemaker.common import arn
from localcloud.sagemaker.exceptions import ResourceInUse, ResourceNotFound, ValidationException
from localcloud.sagemaker.layout import TRAINING_LOG
from localcloud.sagemaker.profiler import DEFAULT_PROFILING_INTERVAL_MS, profiling_enabled
from localcloud.sagemaker.store import Kind

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
DEFAULT_MAX_RUNTIME_SECONDS = 86400
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
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "ProfilerConfig",
    "DebugHookConfig",
)


TRAINING_JOB = Kind(
    "training-job",
    "training job",
    "TrainingJobName",
    "TrainingJobSummaries",
    status_key="TrainingJobStatus",
    not_found=lambda name: ResourceNotFound("Requested resource not found."),
    taken=lambda name: ResourceInUse(
        "Training job names must be unique within an AWS account and region, and a "
        f"training job with this name already exists ({arn('training-job', name)})"
    ),
)


def _with_defaults(request: dict[str, Any]) -> dict[str, Any]:
    """The request's echoed members, with the defaults DescribeTrainingJob shows for the unset."""
    out = {key: copy.deepcopy(request[key]) for key in ECHOED_FIELDS if key in request}
    out["AlgorithmSpecification"].setdefault("EnableSageMakerMetricsTimeSeries", False)
    out["OutputDataConfig"].setdefault("KmsKeyId", "")
    out.setdefault("StoppingCondition", {"MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME_SECONDS})
    for channel in out.get("InputDataConfig", []):
        channel.setdefault("CompressionType", "None")
        channel.setdefault("RecordWrapperType", "None")
        source = channel["DataSource"].get("S3DataSource")
        if source is not None:
            source.setdefault("S3DataDistributionType", "FullyReplicated")
    for flag in (
        "EnableNetworkIsolation",
        "EnableInterContainerTrafficEncryption",
        "EnableManagedSpotTraining",
    ):
        out.setdefault(flag, False)
    if profiling_enabled(request):
        out["ProfilerConfig"].setdefault(
            "ProfilingIntervalInMilliseconds", DEFAULT_PROFILING_INTERVAL_MS
        )
        out["ProfilerConfig"].setdefault("DisableProfiler", False)
        out["ProfilingStatus"] = "Enabled"
    else:
        out["ProfilingStatus"] = "Disabled"
    return out


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

    @property
    def model_artifacts(self) -> str:
        """`<S3OutputPath>/<job>/output/model.tar.gz`."""
        output_path = self.request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        return f"{output_path}/{self.name}/output/model.tar.gz"

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
        # Required in the answer: where the model is, or will be once the job completes.
        out["ModelArtifacts"] = {"S3ModelArtifacts": self.model_artifacts}
        out.update(_with_defaults(self.request))
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
