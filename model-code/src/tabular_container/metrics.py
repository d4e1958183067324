"""Model quality figures, and the `channel:name=value;` lines SageMaker metric definitions read."""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
)

from tabular_container.hyperparameters import REGRESSION


def score(problem_type: str, truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """MSE, RMSE, MAE and R² for regression; accuracy and macro F1 for classification.

    Figures that are undefined for the data (R² of a single row) are left out.
    """
    if problem_type == REGRESSION:
        mse = float(mean_squared_error(truth, predicted))
        figures = {
            "mse": mse,
            "rmse": math.sqrt(mse),
            "mae": float(mean_absolute_error(truth, predicted)),
            "r2": float(r2_score(truth, predicted)) if len(truth) > 1 else math.nan,
        }
    else:
        figures = {
            "accuracy": float(accuracy_score(truth, predicted)),
            "f1": float(f1_score(truth, predicted, average="macro")),
        }
    return {name: value for name, value in figures.items() if math.isfinite(value)}


def metric_lines(channel: str, metrics: dict[str, float]) -> list[str]:
    """One `validation:mse=4.512;` line per metric (regex `validation:mse=([0-9.eE+-]+);`)."""
    return [f"{channel}:{name}={value:.6g};" for name, value in metrics.items()]
