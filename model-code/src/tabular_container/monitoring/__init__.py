"""`monitor`: SageMaker Model Monitor's bring-your-own-container contract (docs/monitor.md).

A publisher of the CloudWatch metric files imports the namespace of each job kind from here:
the files are named after the kind (METRIC_FILES), and NAMESPACES maps the kind to its namespace.
"""

from __future__ import annotations

from tabular_container.monitoring.constants import (
    DATA_METRICS_NAMESPACE,
    DATA_QUALITY,
    METRIC_FILES,
    MODEL_METRICS_NAMESPACE,
    MODEL_QUALITY,
    NAMESPACES,
)

__all__ = [
    "DATA_METRICS_NAMESPACE",
    "DATA_QUALITY",
    "METRIC_FILES",
    "MODEL_METRICS_NAMESPACE",
    "MODEL_QUALITY",
    "NAMESPACES",
    "namespace_of",
]


def namespace_of(metric_file: str) -> str:
    """The CloudWatch namespace of a metric file `monitor` wrote (by its name), or KeyError."""
    kinds = {name: kind for kind, name in METRIC_FILES.items()}
    return NAMESPACES[kinds[metric_file]]
