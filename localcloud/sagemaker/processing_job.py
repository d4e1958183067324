"""A processing job's record: its request, its status, and where its /opt/ml paths live here.

A processing container reads its inputs from, and writes its outputs to, paths under
`/opt/ml/processing/` that the request names (`LocalPath`), and may be told them again in its
`Environment` (Model Monitor passes `dataset_source=/opt/ml/processing/input/endpoint`). Locally
the job's /opt/ml is a folder of the state directory, so every such path, in the request and in
the environment's values, is mapped onto it (`local_path`), as a container's mount would.
`processing_runner` does the work, `processing_jobs` holds the jobs and answers the actions.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from localcloud.paths import PathEscapes, inside
from localcloud.processes import Program
from localcloud.sagemaker.common import arn
from localcloud.sagemaker.exceptions import ResourceInUse, ValidationException
from localcloud.sagemaker.store import Kind

CONTAINER_BASE = PurePosixPath("/opt/ml")
PROCESSING_BASE = CONTAINER_BASE / "processing"
PROCESSING_LOG = "processing.log"
DEFAULT_MAX_RUNTIME_SECONDS = 86400
ECHOED_FIELDS = (
    "ProcessingInputs",
    "ProcessingOutputConfig",
    "ProcessingResources",
    "StoppingCondition",
    "AppSpecification",
    "Environment",
    "RoleArn",
)

PROCESSING_JOB = Kind(
    "processing-job",
    "processing job",
    "ProcessingJobName",
    "ProcessingJobSummaries",
    status_key="ProcessingJobStatus",
    not_found=lambda name: ValidationException(f"Could not find requested job with name {name}"),
    taken=lambda name: ResourceInUse(
        "Job name must be unique within an AWS account and region, and a job with this name "
        f"already exists ({arn('processing-job', name)})"
    ),
)


def local_path(base_dir: Path, container_path: str, member: str) -> Path:
    """Where a container path under /opt/ml/processing/ is in the job's folder."""
    path = PurePosixPath(container_path)
    if not path.is_absolute() or PROCESSING_BASE not in path.parents:
        raise ValidationException(
            f"{member} {container_path!r} must be an absolute path under {PROCESSING_BASE}/"
        )
    if ".." in path.parts:
        raise ValidationException(f"{member} {container_path!r} leaves {PROCESSING_BASE}/")
    return inside(base_dir, *path.relative_to(CONTAINER_BASE).parts)


def mapped_value(base_dir: Path, value: str) -> str:
    """An environment value, with a path under /opt/ml mapped onto the job's folder."""
    path = PurePosixPath(value)
    if path == CONTAINER_BASE or CONTAINER_BASE in path.parents:
        try:
            return str(inside(base_dir, *path.relative_to(CONTAINER_BASE).parts))
        except PathEscapes:
            return value  # not a path the job can reach; the program sees it as given
    return value


@dataclass
class ProcessingJob:
    """One job's request and everything DescribeProcessingJob reports."""

    name: str
    request: dict[str, Any]
    base_dir: Path
    monitoring_schedule_arn: str | None = None
    created: float = field(default_factory=time.time)
    status: str = "InProgress"
    exit_message: str | None = None
    failure_reason: str | None = None
    started: float | None = None
    ended: float | None = None
    modified: float = 0.0
    stop_requested: bool = False
    program: Program | None = None

    def __post_init__(self) -> None:
        self.modified = self.created

    @property
    def arn(self) -> str:
        """ProcessingJobArn."""
        return arn("processing-job", self.name)

    @property
    def log_path(self) -> Path:
        """Where the program's stdout and stderr go."""
        return self.base_dir / PROCESSING_LOG

    @property
    def max_runtime(self) -> int:
        """StoppingCondition.MaxRuntimeInSeconds, or SageMaker's default of one day."""
        condition = self.request.get("StoppingCondition", {})
        return condition.get("MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME_SECONDS)

    def finish(self, status: str, failure_reason: str | None = None) -> None:
        """End the job (Completed, Failed or Stopped), stamping the end time."""
        now = time.time()
        self.status = status
        self.failure_reason = failure_reason
        self.ended = now
        self.modified = now

    def describe(self) -> dict[str, Any]:
        """The DescribeProcessingJob response."""
        out: dict[str, Any] = {
            "ProcessingJobName": self.name,
            "ProcessingJobArn": self.arn,
            "ProcessingJobStatus": self.status,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            **{
                key: copy.deepcopy(self.request[key])
                for key in ECHOED_FIELDS
                if key in self.request
            },
        }
        optional = {
            "ExitMessage": self.exit_message,
            "FailureReason": self.failure_reason,
            "ProcessingStartTime": self.started,
            "ProcessingEndTime": self.ended,
            "MonitoringScheduleArn": self.monitoring_schedule_arn,
        }
        out.update({key: value for key, value in optional.items() if value is not None})
        return out

    def summary(self) -> dict[str, Any]:
        """The job's entry in ListProcessingJobs."""
        out: dict[str, Any] = {
            "ProcessingJobName": self.name,
            "ProcessingJobArn": self.arn,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "ProcessingJobStatus": self.status,
        }
        optional = {
            "ProcessingEndTime": self.ended,
            "FailureReason": self.failure_reason,
            "ExitMessage": self.exit_message,
        }
        out.update({key: value for key, value in optional.items() if value is not None})
        return out
