"""Metric figures, and lines SageMaker's metric-definition regex can read."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
)

from tabular_container.metrics import Score, metric_lines, score

METRIC_REGEX = r"validation:mse=([0-9.eE+-]+);"


def test_regression_figures():
    figures = score("regression", np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))

    assert figures["mse"] == pytest.approx(4 / 3)
    assert figures["rmse"] == pytest.approx((4 / 3) ** 0.5)
    assert figures["mae"] == pytest.approx(2 / 3)
    assert figures["r2"] == pytest.approx(1 - (4 / 3) / (2 / 3))


def test_undefined_figures_are_left_out():
    assert "r2" not in score("regression", np.array([1.0]), np.array([2.0]))


def test_classification_figures():
    figures = score("classification", np.array(["a", "b", "b"]), np.array(["a", "b", "a"]))

    assert figures == {"accuracy": pytest.approx(2 / 3), "f1": pytest.approx(2 / 3)}


@pytest.mark.parametrize("value", [4.512, 1e-9, -0.25, 123456789.0])
def test_metric_lines_match_the_metric_definition_regex(value):
    lines = metric_lines("validation", {"mse": value, "r2": 0.5})

    assert lines[1] == "validation:r2=0.5;"
    assert float(re.fullmatch(METRIC_REGEX, lines[0]).group(1)) == pytest.approx(value, rel=1e-5)


@pytest.mark.parametrize("size", [1, 3, 50, 1000])
def test_figures_over_chunks_equal_scikit_learns_over_all_rows(size):
    random = np.random.default_rng(0)
    truth = random.normal(10, 3, 500)
    predicted = truth + random.normal(0, 1, 500)
    labels = random.choice(np.array(["a", "b", "c", "d"], dtype=object), 500)
    guesses = np.where(random.random(500) < 0.7, labels, "e")  # "e" is never true

    regression, classification = Score("regression"), Score("classification")
    for start in range(0, 500, size):
        part = slice(start, start + size)
        regression.add(truth[part], predicted[part])
        classification.add(labels[part], guesses[part])

    assert regression.figures() == pytest.approx(
        {
            "mse": mean_squared_error(truth, predicted),
            "rmse": mean_squared_error(truth, predicted) ** 0.5,
            "mae": mean_absolute_error(truth, predicted),
            "r2": r2_score(truth, predicted),
        },
        rel=1e-12,
    )
    assert classification.figures() == pytest.approx(
        {
            "accuracy": accuracy_score(labels, guesses),
            "f1": f1_score(labels, guesses, average="macro"),
        },
        rel=1e-12,
    )
    assert regression.rows == classification.rows == 500


def test_r2_of_a_constant_truth_is_scikit_learns():
    constant = np.array([2.0, 2.0, 2.0])

    assert score("regression", constant, constant)["r2"] == r2_score(constant, constant)
    assert score("regression", constant, constant + 1)["r2"] == r2_score(constant, constant + 1)
