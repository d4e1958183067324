"""A transform job's record: its request, its status, what DescribeTransformJob reports, no work.

`transform_runner` does the work, `transform_jobs` holds the jobs and answers the actions.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.processes import Program
from localcloud.sagemaker.common import arn, event_time
from localcloud.sagemaker.data_processing import DataProcessing
from localcloud.sagemaker.exceptions import ResourceInUse, ValidationException
from localcloud.sagemaker.store import Kind

ENDED = frozenset({"Completed", "Failed", "Stopped"})
ECHOED_FIELDS = (
    "ModelName",
    "MaxConcurrentTransforms",
    "ModelClientConfig",
    "MaxPayloadInMB",
    "BatchStrategy",
    "Environment",
    "TransformInput",
    "TransformOutput",
    "TransformResources",
    "DataProcessing",
)
# The detail of SageMaker's "Transform Job State Change" events (Tags added as a map).
EVENT_FIELDS = (
    "TransformJobName",
    "TransformJobArn",
    "TransformJobStatus",
    "FailureReason",
    "ModelName",
    "MaxConcurrentTransforms",
    "MaxPayloadInMB",
    "BatchStrategy",
    "Environment",
    "TransformInput",
    "TransformOutput",
    "TransformResources",
    "CreationTime",
    "TransformStartTime",
    "TransformEndTime",
)
TIME_FIELDS = ("CreationTime", "TransformStartTime", "TransformEndTime")

TRANSFORM_JOB = Kind(
    "transform-job",
    "transform job",
    "TransformJobName",
    "TransformJobSummaries",
    status_key="TransformJobStatus",
    not_found=lambda name: ValidationException(f"Could not find requested job with name {name}"),
    taken=lambda name: ResourceInUse(
        "Job name must be unique within an AWS account and region, and a job with this name "
        f"already exists ({arn('transform-job', name)})"
    ),
)


@dataclass
class TransformJob:
    """One job's request, the settings it runs with and everything DescribeTransformJob reports."""

    name: str
    request: dict[str, Any]
    base_dir: Path
    processing: DataProcessing
    created: float = field(default_factory=time.time)
    status: str = "InProgress"
    failure_reason: str | None = None
    modified: float = 0.0
    started: float | None = None
    ended: float | None = None
    stop_requested: bool = False
    # What the job runs with once the container has answered /execution-parameters.
    resolved: dict[str, Any] = field(default_factory=dict)
    programs: list[Program] = field(default_factory=list)  # one serve process per instance

    def __post_init__(self) -> None:
        self.modified = self.created

    @property
    def arn(self) -> str:
        """TransformJobArn."""
        return arn("transform-job", self.name)

    def describe(self) -> dict[str, Any]:
        """The DescribeTransformJob response: the request with AWS's defaults for the unset."""
        out: dict[str, Any] = {
            "TransformJobName": self.name,
            "TransformJobArn": self.arn,
            "TransformJobStatus": self.status,
            "CreationTime": self.created,
        }
        out.update({k: copy.deepcopy(self.request[k]) for k in ECHOED_FIELDS if k in self.request})
        out.update({k: v for k, v in self.resolved.items() if k not in self.request})
        transform_input = out["TransformInput"]
        transform_input.setdefault("CompressionType", "None")
        transform_input.setdefault("SplitType", "None")
        out["TransformOutput"].setdefault("AssembleWith", "None")
        if "DataProcessing" in out:
            out["DataProcessing"] = {
                "InputFilter": "$",
                "OutputFilter": "$",
                "JoinSource": "None",
                **out["DataProcessing"],
            }
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        if self.started is not None:
            out["TransformStartTime"] = self.started
        if self.ended is not None:
            out["TransformEndTime"] = self.ended
        return out

    def summary(self) -> dict[str, Any]:
        """The job's entry in ListTransformJobs."""
        out: dict[str, Any] = {
            "TransformJobName": self.name,
            "TransformJobArn": self.arn,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "TransformJobStatus": self.status,
        }
        if self.ended is not None:
            out["TransformEndTime"] = self.ended
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        return out

    def event_detail(self, tags: dict[str, str]) -> dict[str, Any]:
        """The "SageMaker Transform Job State Change" detail: Describe's fields, times in ISO 8601
        and the tags as a map, as SageMaker's event carries them."""
        described = self.describe()
        detail = {key: described[key] for key in EVENT_FIELDS if key in described}
        for key in TIME_FIELDS:
            if key in detail:
                detail[key] = event_time(detail[key])
        detail["Tags"] = tags
        return detail

    def end(self, status: str, reason: str | None = None) -> None:
        """Record the job's last status (the caller holds the lock)."""
        now = time.time()
        self.status = status
        self.failure_reason = reason
        self.ended = now
        self.modified = now
