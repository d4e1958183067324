"""Run a monitoring schedule now, instead of at its next hour (`python -m localcloud monitor`).

SageMaker has no "run now" action: its way is a one-time schedule (`ScheduleExpression: NOW`)
with the same job and an analysis window. This does exactly that through SageMaker's own API,
so it works the same against the local cloud and against AWS: the copy is named
`<schedule>-now-<yyyymmddHHMMSS>` (kept, as SageMaker keeps it, with its execution), and the
execution is followed to its end.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

ENDED = frozenset({"Completed", "CompletedWithViolations", "Failed", "Stopped"})
NAME_LIMIT = 63  # MonitoringScheduleName's length limit


def one_time_config(config: dict[str, Any], hours: int) -> dict[str, Any]:
    """A schedule's configuration run once, now, over the last `hours` hours (1 to 24)."""
    if not 1 <= hours <= 24:
        raise ValueError(f"hours must be 1 to 24 (a NOW window lasts a day at most), got {hours}")
    once = copy.deepcopy(config)
    once["ScheduleConfig"] = {
        "ScheduleExpression": "NOW",
        "DataAnalysisStartTime": f"-PT{hours}H",
        "DataAnalysisEndTime": "-PT0H",
    }
    return once


def one_time_name(schedule: str, now: datetime) -> str:
    """`<schedule>-now-<yyyymmddHHMMSS>`, the schedule's name cut to fit SageMaker's limit."""
    suffix = f"-now-{now:%Y%m%d%H%M%S}"
    return schedule[: NAME_LIMIT - len(suffix)].rstrip("-") + suffix


def run_now(
    sagemaker: Any,
    schedule: str,
    hours: int = 1,
    timeout: float = 600.0,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Run `schedule`'s job once over the last `hours` hours; its execution summary once ended."""
    config = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=schedule)[
        "MonitoringScheduleConfig"
    ]
    name = one_time_name(schedule, datetime.now(UTC))
    sagemaker.create_monitoring_schedule(
        MonitoringScheduleName=name, MonitoringScheduleConfig=one_time_config(config, hours)
    )
    progress(f"{schedule}: started {name} over the last {hours} hour(s)")
    deadline = time.monotonic() + timeout
    shown = None
    while True:
        found = sagemaker.list_monitoring_executions(MonitoringScheduleName=name)
        executions = found["MonitoringExecutionSummaries"]
        if executions:
            status = executions[0]["MonitoringExecutionStatus"]
            if status != shown:
                progress(f"{schedule}: {status}")
                shown = status
            if status in ENDED:
                return executions[0]
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} did not end within {timeout:.0f} s")
        time.sleep(1.0)


def report_document(sagemaker: Any, s3: Any, execution: dict[str, Any], filename: str) -> Any:
    """One JSON file of an execution's report (statistics.json, constraint_violations.json),
    from where its processing job uploaded the report."""
    job = sagemaker.describe_processing_job(
        ProcessingJobName=execution["ProcessingJobArn"].rsplit("/", 1)[1]
    )
    uri = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    body = s3.get_object(Bucket=bucket, Key=f"{prefix.rstrip('/')}/{filename}")
    return json.loads(body["Body"].read())


def violations(sagemaker: Any, s3: Any, execution: dict[str, Any]) -> list[dict[str, Any]]:
    """The constraint_violations.json entries of an execution's report."""
    document = report_document(sagemaker, s3, execution, "constraint_violations.json")
    return list(document.get("violations", []))
