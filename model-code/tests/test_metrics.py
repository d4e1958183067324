"""Metric figures, and lines SageMaker's metric-definition regex can read."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tabular_container.metrics import metric_lines, score

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
