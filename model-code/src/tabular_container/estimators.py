"""Build the scikit-learn pipeline (preprocessing included) that the hyperparameters describe."""

from __future__ import annotations

from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import Ridge, RidgeClassifier
from sklearn.pipeline import Pipeline

from tabular_container.hyperparameters import (
    CLASSIFICATION,
    HIST_GRADIENT_BOOSTING,
    NYSTROEM_RIDGE,
    Hyperparameters,
)
from tabular_container.schema import Schema
from tabular_container.transformers import RBFFeatures, TabularEncoder


def _final_step(hp: Hyperparameters) -> BaseEstimator:
    """The estimator at the end of the pipeline, for the problem type."""
    classify = hp.problem_type == CLASSIFICATION
    if hp.estimator == HIST_GRADIENT_BOOSTING:
        boosting = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
        return boosting(
            learning_rate=hp.learning_rate,
            max_iter=hp.max_iter,
            max_leaf_nodes=hp.max_leaf_nodes,
            random_state=hp.random_state,
        )
    return (RidgeClassifier if classify else Ridge)(alpha=hp.alpha)


def build_model(hp: Hyperparameters, schema: Schema, n_rows: int) -> Pipeline:
    """Raw rows in schema order in, predictions out; n_rows caps the kernel basis size."""
    steps: list[tuple[str, BaseEstimator]] = [
        (
            "encode",
            TabularEncoder(
                columns=schema.names,
                categorical=schema.categorical_positions,
                category_weight=hp.category_weight,
            ),
        )
    ]
    if hp.estimator == NYSTROEM_RIDGE:
        rbf = RBFFeatures(
            gamma=hp.gamma,
            n_components=min(hp.n_components, n_rows),
            random_state=hp.random_state,
        )
        steps.append(("rbf", rbf))
    steps.append(("model", _final_step(hp)))
    return Pipeline(steps)
