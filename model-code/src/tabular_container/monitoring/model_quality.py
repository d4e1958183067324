"""Model-quality statistics of a regression, and their comparison with the baseline constraints.

The statistics are in the shape lambdas/register_model writes for the model registry
(model_quality_statistics): regression_metrics mae, mse, rmse and r2, each {"value",
"standard_deviation"}, the deviation over five seeded 80% subsamples, "NaN" under 200 records.
The constraints are {"regression_constraints": {metric: {"threshold", "comparison_operator"}}}
(register_model's model_quality_constraints); a metric violates when "value <operator>
threshold" holds, worded as the analyzer words it: "Metric mse with 6.1 was
GreaterThanThreshold 4.6".
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from tabular_container.monitoring.constants import (
    MIN_RECORDS_FOR_DEVIATION,
    SUBSAMPLE_SEED,
    SUBSAMPLE_SHARE,
    SUBSAMPLES,
)

SECTION = "regression_constraints"
METRICS_SECTION = "regression_metrics"
METRIC_NAMES = ("mae", "mse", "rmse", "r2")
OPERATORS = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
# The direction in which each metric gets worse: what a suggested constraint guards against.
WORSE = {
    "mae": "GreaterThanThreshold",
    "mse": "GreaterThanThreshold",
    "rmse": "GreaterThanThreshold",
    "r2": "LessThanThreshold",
}


def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """MAE, MSE, RMSE and R² (R² is 1.0 for a perfect fit of a constant target, else 0.0)."""
    errors = predicted - actual
    mse = float(np.mean(errors**2))
    total = float(np.sum((actual - actual.mean()) ** 2))
    r2 = 1.0 - mse * len(actual) / total if total else float(mse == 0)
    return {"mae": float(np.mean(np.abs(errors))), "mse": mse, "rmse": math.sqrt(mse), "r2": r2}


def statistics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Model Monitor's model-quality statistics.json of the pairs."""
    metrics = regression_metrics(actual, predicted)
    deviations: dict[str, float | str] = dict.fromkeys(METRIC_NAMES, "NaN")
    if len(actual) >= MIN_RECORDS_FOR_DEVIATION:
        random = np.random.default_rng(SUBSAMPLE_SEED)
        size = int(len(actual) * SUBSAMPLE_SHARE)
        samples = []
        for _ in range(SUBSAMPLES):
            chosen = random.choice(len(actual), size, replace=False)
            samples.append(regression_metrics(actual[chosen], predicted[chosen]))
        deviations = {name: float(np.std([s[name] for s in samples])) for name in METRIC_NAMES}
    return {
        "version": 0.0,
        "dataset": {"item_count": len(actual)},
        METRICS_SECTION: {
            name: {"value": metrics[name], "standard_deviation": deviations[name]}
            for name in METRIC_NAMES
        },
    }


def suggested_constraints(current: dict[str, Any]) -> dict[str, Any]:
    """The constraints a baselining job suggests: each metric no worse than the baseline's."""
    return {
        "version": 0.0,
        SECTION: {
            name: {"threshold": metric["value"], "comparison_operator": WORSE[name]}
            for name, metric in current[METRICS_SECTION].items()
        },
    }


def violations(constraints: dict[str, Any], current: dict[str, Any]) -> list[dict[str, str]]:
    """Each constrained metric whose value meets its comparison."""
    found = []
    metrics = current[METRICS_SECTION]
    for name, rule in constraints.get(SECTION, {}).items():
        comparison = OPERATORS.get(rule["comparison_operator"])
        if name not in metrics or comparison is None:
            continue
        value, threshold = metrics[name]["value"], float(rule["threshold"])
        if comparison(value, threshold):
            found.append(
                {
                    "constraint_check_type": rule["comparison_operator"],
                    "description": f"Metric {name} with {value:.6g} was "
                    f"{rule['comparison_operator']} {threshold:.6g}",
                    "metric_name": name,
                }
            )
    return found
