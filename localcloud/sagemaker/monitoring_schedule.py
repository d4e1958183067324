"""A monitoring schedule's record and its executions, as DescribeMonitoringSchedule and
ListMonitoringExecutions show them.

`monitoring` runs the executions; this module only holds what they report.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from localcloud.sagemaker.common import arn
from localcloud.sagemaker.exceptions import ResourceInUse, ResourceNotFound
from localcloud.sagemaker.schedule_expression import ScheduleExpression
from localcloud.sagemaker.store import Kind

ENDED = frozenset({"Completed", "CompletedWithViolations", "Failed", "Stopped"})

MONITORING_SCHEDULE = Kind(
    "monitoring-schedule",
    "monitoring schedule",
    "MonitoringScheduleName",
    "MonitoringScheduleSummaries",
    status_key="MonitoringScheduleStatus",
    not_found=lambda name: ResourceNotFound(
        f"Monitoring Schedule {arn('monitoring-schedule', name)} does not exist."
    ),
    taken=lambda name: ResourceInUse(
        f"Monitoring Schedule {arn('monitoring-schedule', name)} already exists."
    ),
)


@dataclass
class MonitoringExecution:
    """One run of a schedule: pending, then its processing job's fate."""

    schedule: str
    endpoint: str
    monitoring_type: str
    definition_name: str | None
    scheduled_time: datetime
    created: float = field(default_factory=time.time)
    status: str = "Pending"
    processing_job_arn: str | None = None
    failure_reason: str | None = None
    modified: float = 0.0

    def __post_init__(self) -> None:
        self.modified = self.created

    def end(self, status: str, failure_reason: str | None = None) -> None:
        """Set the final (or InProgress) status, stamping LastModifiedTime."""
        self.status = status
        self.failure_reason = failure_reason
        self.modified = time.time()

    def summary(self) -> dict[str, Any]:
        """The MonitoringExecutionSummary."""
        out: dict[str, Any] = {
            "MonitoringScheduleName": self.schedule,
            "ScheduledTime": self.scheduled_time.timestamp(),
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "MonitoringExecutionStatus": self.status,
            "EndpointName": self.endpoint,
            "MonitoringType": self.monitoring_type,
        }
        optional = {
            "ProcessingJobArn": self.processing_job_arn,
            "FailureReason": self.failure_reason,
            "MonitoringJobDefinitionName": self.definition_name,
        }
        out.update({key: value for key, value in optional.items() if value is not None})
        return out


@dataclass
class MonitoringSchedule:
    """One schedule: its configuration, status and executions, newest last."""

    name: str
    config: dict[str, Any]
    expression: ScheduleExpression
    endpoint: str
    monitoring_type: str
    definition_name: str | None
    created: float = field(default_factory=time.time)
    status: str = "Scheduled"
    modified: float = 0.0
    next_run: datetime | None = None
    executions: list[MonitoringExecution] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.modified = self.created

    @property
    def arn(self) -> str:
        """MonitoringScheduleArn."""
        return arn("monitoring-schedule", self.name)

    def describe(self) -> dict[str, Any]:
        """The DescribeMonitoringSchedule response."""
        out = {
            **self.summary(),
            "MonitoringScheduleConfig": copy.deepcopy(self.config),
        }
        if self.executions:
            out["LastMonitoringExecutionSummary"] = self.executions[-1].summary()
        return out

    def summary(self) -> dict[str, Any]:
        """The schedule's entry in ListMonitoringSchedules."""
        out = {
            "MonitoringScheduleName": self.name,
            "MonitoringScheduleArn": self.arn,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "MonitoringScheduleStatus": self.status,
            "EndpointName": self.endpoint,
            "MonitoringType": self.monitoring_type,
        }
        if self.definition_name is not None:
            out["MonitoringJobDefinitionName"] = self.definition_name
        return out
