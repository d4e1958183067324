"""CloudWatch metric files, in the PutMetricData-like form of model-monitor-byoc-cloudwatch.

One JSON object per line: MetricName, Timestamp, Dimensions [{Name, Value}], and Value or
StatisticValues, with a Unit. The namespace is not in the file: the file is named after the job
kind (constants.METRIC_FILES), whose namespace constants.NAMESPACES gives a publisher.
Dimensions: Endpoint and MonitoringSchedule, as the page recommends for real-time endpoints.
The metrics alarms watch (`also_per_endpoint`) are written a second time with the Endpoint
alone: an alarm then hears a one-time run of a schedule's job (`python -m localcloud monitor`,
a copy under another schedule name) as it hears the hourly runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tabular_container.monitoring.constants import METRIC_FILES


@dataclass
class MetricWriter:
    """Metric data of one job, written at the end as one file."""

    kind: str
    timestamp: datetime
    endpoint: str | None
    schedule: str | None

    def __post_init__(self) -> None:
        self.data: list[dict[str, Any]] = []

    def _dimensions(self, endpoint_only: bool = False) -> list[dict[str, str]]:
        dimensions = [("Endpoint", self.endpoint)]
        if not endpoint_only:
            dimensions.append(("MonitoringSchedule", self.schedule))
        return [{"Name": name, "Value": value} for name, value in dimensions if value]

    def value(
        self, name: str, value: float, unit: str = "None", also_per_endpoint: bool = False
    ) -> None:
        self.data.append(self._datum(name, {"Value": value}, unit))
        if also_per_endpoint and self.endpoint:
            self.data.append(self._datum(name, {"Value": value}, unit, endpoint_only=True))

    def statistics(self, name: str, count: float, total: float, low: float, high: float) -> None:
        values = {"SampleCount": count, "Sum": total, "Minimum": low, "Maximum": high}
        self.data.append(self._datum(name, {"StatisticValues": values}, "None"))

    def _datum(
        self, name: str, figures: dict[str, Any], unit: str, endpoint_only: bool = False
    ) -> dict[str, Any]:
        return {
            "MetricName": name,
            "Timestamp": self.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Dimensions": self._dimensions(endpoint_only),
            **figures,
            "Unit": unit,
        }

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / METRIC_FILES[self.kind]
        lines = [json.dumps(datum, allow_nan=False) for datum in self.data]
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        return path
