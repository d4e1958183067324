"""Model quality figures, and the `channel:name=value;` lines SageMaker metric definitions read."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd

from tabular_container.hyperparameters import REGRESSION
from tabular_container.streaming import Moments


class Score:
    """Quality figures accumulated chunk by chunk: MSE, RMSE, MAE and R² for regression,
    accuracy and macro F1 for classification (scikit-learn's definitions)."""

    def __init__(self, problem_type: str) -> None:
        self.problem_type = problem_type
        self.rows = 0
        self.squared_error = 0.0
        self.absolute_error = 0.0
        self.truth = Moments(1)  # R²'s denominator: the truth's spread around its own mean
        self.correct = 0
        self.hits: Counter = Counter()  # per label: rows predicted right
        self.true: Counter = Counter()  # rows of the label
        self.predicted: Counter = Counter()  # rows predicted as the label

    def add(self, truth: np.ndarray, predicted: np.ndarray) -> None:
        """Count a chunk of true values and predictions."""
        self.rows += len(truth)
        if self.problem_type == REGRESSION:
            error = np.asarray(truth, dtype=float) - predicted
            self.squared_error += float(error @ error)
            self.absolute_error += float(np.abs(error).sum())
            self.truth.add(np.asarray(truth, dtype=float)[:, None])
            return
        right = truth == predicted
        self.correct += int(right.sum())
        for counts, labels in (
            (self.hits, truth[right]),
            (self.true, truth),
            (self.predicted, predicted),
        ):
            counts.update(pd.Series(labels).value_counts(sort=False).to_dict())

    def figures(self) -> dict[str, float]:
        """The figures; those undefined for the data (R² of a single row) are left out."""
        if self.problem_type == REGRESSION:
            mse = self.squared_error / self.rows
            total = float(self.truth.m2[0])
            if self.rows < 2:
                r2 = math.nan
            elif total > 0:
                r2 = 1 - self.squared_error / total
            else:  # a constant truth: scikit-learn's r2_score gives 1 for a perfect fit, else 0
                r2 = 1.0 if self.squared_error == 0 else 0.0
            figures = {
                "mse": mse,
                "rmse": math.sqrt(mse),
                "mae": self.absolute_error / self.rows,
                "r2": r2,
            }
        else:
            labels = set(self.true) | set(self.predicted)
            f1 = [
                2 * self.hits[label] / (self.true[label] + self.predicted[label])
                for label in labels
            ]
            figures = {"accuracy": self.correct / self.rows, "f1": float(np.mean(f1))}
        return {name: value for name, value in figures.items() if math.isfinite(value)}


def score(problem_type: str, truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """The figures of one set of predictions."""
    result = Score(problem_type)
    result.add(truth, predicted)
    return result.figures()


def metric_lines(channel: str, metrics: dict[str, float]) -> list[str]:
    """One `validation:mse=4.512;` line per metric (regex `validation:mse=([0-9.eE+-]+);`)."""
    return [f"{channel}:{name}={value:.6g};" for name, value in metrics.items()]
