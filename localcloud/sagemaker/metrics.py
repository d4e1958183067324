"""The endpoint invocation metrics SageMaker publishes to CloudWatch, aggregated off the hot path.

Namespace `AWS/SageMaker`, dimensions EndpointName and VariantName, and the same again with
EndpointConfigName as well (so an alarm can watch one fleet while an update bakes), for every
request sent to the container (AWS's definitions):
- `Invocations`: 1 per request (Unit None; read Sum or SampleCount);
- `Invocation4XXErrors` / `Invocation5XXErrors`: 1 when the model answered 4xx / 5xx, else 0
  (Unit None; Average is the error rate). No answer at all counts as a 5xx;
- `ModelLatency`: the container's round trip as SageMaker sees it, in microseconds;
- `OverheadLatency`: the rest of the time from receiving the request to answering, microseconds.
`record` only adds to counters under a lock; a background thread sends one PutMetricData
per flush with StatisticValues (SampleCount, Sum, Minimum, Maximum) per metric and variant.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from localcloud.sagemaker.clients import AwsClients

LOG = logging.getLogger("localcloud.sagemaker")
NAMESPACE = "AWS/SageMaker"
FLUSH_SECONDS = 1.0
MAX_METRICS_PER_CALL = 1000  # PutMetricData's limit of MetricData entries
UNITS = {
    "Invocations": "None",
    "Invocation4XXErrors": "None",
    "Invocation5XXErrors": "None",
    "ModelLatency": "Microseconds",
    "OverheadLatency": "Microseconds",
}


@dataclass
class _Statistics:
    """SampleCount, Sum, Minimum and Maximum of one metric over one flush interval."""

    count: int = 0
    total: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)

    def merge(self, other: _Statistics) -> None:
        self.count += other.count
        self.total += other.total
        self.low = min(self.low, other.low)
        self.high = max(self.high, other.high)

    def values(self) -> dict[str, float]:
        return {
            "SampleCount": self.count,
            "Sum": self.total,
            "Minimum": self.low,
            "Maximum": self.high,
        }


@dataclass
class _VariantWindow:
    """What one variant's requests added up to since the last flush."""

    metrics: dict[str, _Statistics] = field(default_factory=dict)

    def add(self, metric: str, value: float) -> None:
        self.metrics.setdefault(metric, _Statistics()).add(value)

    def merge(self, other: _VariantWindow) -> None:
        for metric, statistics in other.metrics.items():
            self.metrics.setdefault(metric, _Statistics()).merge(statistics)


class EndpointMetrics:
    """Counts invocations per endpoint and variant; publishes them every `flush_seconds`."""

    def __init__(self, clients: AwsClients, flush_seconds: float = FLUSH_SECONDS) -> None:
        self._clients = clients
        # (endpoint, variant, endpoint configuration) -> what its requests added up to
        self._windows: dict[tuple[str, str, str], _VariantWindow] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._flush_seconds = flush_seconds
        self._thread = threading.Thread(
            target=self._publish_periodically, name="endpoint-metrics", daemon=True
        )
        self._thread.start()

    def record(
        self,
        endpoint: str,
        variant: str,
        config: str,
        status: int | None,
        model_seconds: float,
        overhead_seconds: float,
    ) -> None:
        """One request the container was sent; `status` None when it gave no answer."""
        server_error = status is None or status >= 500
        client_error = status is not None and 400 <= status < 500
        with self._lock:
            window = self._windows.setdefault((endpoint, variant, config), _VariantWindow())
            window.add("Invocations", 1)
            window.add("Invocation4XXErrors", int(client_error))
            window.add("Invocation5XXErrors", int(server_error))
            window.add("ModelLatency", round(model_seconds * 1e6))
            window.add("OverheadLatency", round(max(0.0, overhead_seconds) * 1e6))

    def flush(self) -> None:
        """Send what was counted since the last flush (nothing when there were no requests)."""
        with self._lock:
            windows, self._windows = self._windows, {}
        if not windows:
            return
        timestamp = datetime.now(UTC)
        by_variant: dict[tuple[str, ...], _VariantWindow] = {}
        for (endpoint, variant, _config), window in windows.items():
            by_variant.setdefault((endpoint, variant), _VariantWindow()).merge(window)
        dimensions = ("EndpointName", "VariantName", "EndpointConfigName")
        data: list[dict[str, Any]] = [
            {
                "MetricName": metric,
                "Dimensions": [
                    {"Name": name, "Value": value}
                    for name, value in zip(dimensions, key, strict=False)
                ],
                "Timestamp": timestamp,
                "StatisticValues": statistics.values(),
                "Unit": UNITS[metric],
            }
            for key, window in [*by_variant.items(), *windows.items()]
            for metric, statistics in window.metrics.items()
        ]
        cloudwatch = self._clients.client("cloudwatch")
        for start in range(0, len(data), MAX_METRICS_PER_CALL):
            try:
                cloudwatch.put_metric_data(
                    Namespace=NAMESPACE, MetricData=data[start : start + MAX_METRICS_PER_CALL]
                )
            except Exception as error:  # serving goes on; these data points are lost
                LOG.warning("could not publish endpoint metrics: %s", error)

    def close(self) -> None:
        """Publish what is left and stop the thread; safe to call twice."""
        self._closed.set()
        self._thread.join(timeout=10)
        self.flush()

    def _publish_periodically(self) -> None:
        while not self._closed.wait(self._flush_seconds):
            self.flush()
