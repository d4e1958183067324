"""Parse and check the hyperparameters SageMaker hands to `train` (every value a string)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tabular_container.errors import UserError

REGRESSION = "regression"
CLASSIFICATION = "classification"
PROBLEM_TYPES = (REGRESSION, CLASSIFICATION)

NYSTROEM_RIDGE = "nystroem_ridge"
RIDGE = "ridge"
HIST_GRADIENT_BOOSTING = "hist_gradient_boosting"
ESTIMATORS = (NYSTROEM_RIDGE, RIDGE, HIST_GRADIENT_BOOSTING)

# SageMaker itself adds these (automatic model tuning, the SageMaker Python SDK); they are not ours.
RESERVED_PREFIXES = ("sagemaker_", "_tuning_objective_metric")


class HyperparameterError(UserError):
    """A hyperparameter is unknown, does not apply, or has a bad value."""


def _text(raw: str) -> str:
    if not raw.strip():
        raise ValueError("expected a non-empty name")
    return raw


def _names(raw: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in raw.split(",")) if raw.strip() else ()
    if "" in names:
        raise ValueError("expected column names separated by commas")
    if len(set(names)) < len(names):
        raise ValueError("a column is named twice")
    return names


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return raw

    return parse


def _number(low: float, high: float, *, low_inclusive: bool) -> Callable[[str], float]:
    bound = "≥" if low_inclusive else ">"

    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError("expected a number") from None
        above = value >= low if low_inclusive else value > low
        if not (math.isfinite(value) and above and value <= high):
            raise ValueError(f"expected a number {bound} {low:g} and ≤ {high:g}")
        return value

    return parse


def _integer(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError("expected a whole number") from None
        if not low <= value <= high:
            raise ValueError(f"expected a whole number from {low} to {high}")
        return value

    return parse


def _auto_or_positive(raw: str) -> float | None:
    if raw == "auto":
        return None
    try:
        return _number(0.0, 1e6, low_inclusive=False)(raw)
    except ValueError:
        raise ValueError("expected 'auto' or a number > 0") from None


@dataclass(frozen=True)
class _Spec:
    parse: Callable[[str], Any]
    estimators: tuple[str, ...] = ESTIMATORS


SPECS: dict[str, _Spec] = {
    "target": _Spec(_text),
    "problem_type": _Spec(_choice(*PROBLEM_TYPES)),
    "categorical_columns": _Spec(_names),
    "estimator": _Spec(_choice(*ESTIMATORS)),
    "alpha": _Spec(_number(0.0, 1e6, low_inclusive=False), (NYSTROEM_RIDGE, RIDGE)),
    "category_weight": _Spec(_number(0.0, 100.0, low_inclusive=True), (NYSTROEM_RIDGE, RIDGE)),
    "gamma": _Spec(_auto_or_positive, (NYSTROEM_RIDGE,)),
    "n_components": _Spec(_integer(1, 20_000), (NYSTROEM_RIDGE,)),
    "learning_rate": _Spec(_number(0.0, 1.0, low_inclusive=False), (HIST_GRADIENT_BOOSTING,)),
    "max_iter": _Spec(_integer(1, 10_000), (HIST_GRADIENT_BOOSTING,)),
    "max_leaf_nodes": _Spec(_integer(2, 65_536), (HIST_GRADIENT_BOOSTING,)),
    "random_state": _Spec(_integer(0, 2**32 - 1)),
}


def _string(value: object) -> str:
    if value is None:
        return "auto"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


@dataclass(frozen=True)
class Hyperparameters:
    """Checked training settings; the defaults are the best model found for abalone."""

    target: str = "rings"
    problem_type: str = REGRESSION
    categorical_columns: tuple[str, ...] = ()  # categorical whatever their cells (data.Tally)
    estimator: str = NYSTROEM_RIDGE
    alpha: float = 0.3
    category_weight: float = 0.5  # one-hot value; 0.5 moves a row ~0.7 std per category change
    gamma: float | None = None  # 'auto': 1 / number of encoded features
    n_components: int = 300
    learning_rate: float = 0.1
    max_iter: int = 100
    max_leaf_nodes: int = 31
    random_state: int = 0

    def as_strings(self) -> dict[str, str]:
        """The settings that apply, in SageMaker's string form, for metadata.json."""
        return {name: _string(getattr(self, name)) for name in self.applicable()}

    def applicable(self) -> tuple[str, ...]:
        """Names of the settings that mean something for the chosen estimator."""
        return tuple(name for name, spec in SPECS.items() if self.estimator in spec.estimators)


def parse_hyperparameters(raw: object) -> Hyperparameters:
    """Check every key and value, naming the culprit; platform-reserved keys are ignored."""
    if not isinstance(raw, Mapping):
        raise HyperparameterError("hyperparameters.json must hold a JSON object of strings")
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name.startswith(RESERVED_PREFIXES):
            continue
        spec = SPECS.get(name)
        if spec is None:
            raise HyperparameterError(
                f"unknown hyperparameter {name!r}; known: {', '.join(sorted(SPECS))}"
            )
        if not isinstance(value, str):
            raise HyperparameterError(
                f"hyperparameter {name}={value!r} must be a string, as SageMaker passes them"
            )
        try:
            values[name] = spec.parse(value)
        except ValueError as error:
            raise HyperparameterError(
                f"hyperparameter {name}={value!r} is invalid: {error}"
            ) from None
    chosen = Hyperparameters(**values)
    for name in values:
        if chosen.estimator not in SPECS[name].estimators:
            raise HyperparameterError(
                f"hyperparameter {name!r} does not apply to estimator {chosen.estimator}; "
                f"it takes: {', '.join(chosen.applicable())}"
            )
    return chosen
