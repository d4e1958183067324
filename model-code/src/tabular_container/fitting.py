"""Fit the pipeline on the train channel chunk by chunk, score it, and write the model directory.

Memory follows the chunk, not the rows. The survey pass learns the schema, the encoder's
statistics and a sample of rows for the kernel basis; a second pass accumulates what ridge needs
(the features' centred Gram matrix and their products with the target), from which its solution
is set on a plain scikit-learn estimator; scoring predicts chunk by chunk. Only boosting needs
every row at once: it gets them encoded as floats, once the memory they take has been checked.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from tabular_container.artifacts import library_versions, save_model
from tabular_container.baseline import DataProfile
from tabular_container.capacity import (
    check_channel,
    check_memory,
    chunk_rows,
    memory_needed,
    model_features,
)
from tabular_container.data import Channel, TextChunks, feature_array, target_array
from tabular_container.estimators import build_model
from tabular_container.hyperparameters import (
    CLASSIFICATION,
    HIST_GRADIENT_BOOSTING,
    NYSTROEM_RIDGE,
    Hyperparameters,
)
from tabular_container.metrics import Score, metric_lines
from tabular_container.parallel import map_in_order
from tabular_container.schema import Schema
from tabular_container.streaming import CentredScatter
from tabular_container.survey import Survey, survey


@dataclass(frozen=True)
class Fitted:
    """A fitted pipeline, the schema it takes (categories learnt) and what the survey found."""

    model: Pipeline
    schema: Schema
    survey: Survey
    chunk_rows: int


def _width(found: Survey) -> int:
    """Columns of the encoded rows: a one-hot column per category, and the numeric ones."""
    return sum(map(len, found.categories)) + len(found.moments.mean)


def _transform(model: Pipeline, rows: np.ndarray) -> np.ndarray:
    """Raw rows through every step but the last."""
    for _, step in model.steps[:-1]:
        rows = step.transform(rows)
    return rows


def _ridge_targets(target: np.ndarray, classes: np.ndarray | None) -> np.ndarray:
    """The target as ridge regresses it: one column, or ±1 per class (RidgeClassifier's coding)."""
    if classes is None:
        return target[:, None]
    positions = np.searchsorted(classes, target)
    if len(classes) == 2:
        return np.where(positions == 1, 1.0, -1.0)[:, None]
    coded = np.full((len(target), len(classes)), -1.0)
    coded[np.arange(len(target)), positions] = 1.0
    return coded


def _set_solution(
    estimator: BaseEstimator, coef: np.ndarray, intercept: np.ndarray, classes: np.ndarray | None
) -> None:
    """Give a Ridge or RidgeClassifier the streamed solution.

    It is first fitted on one row of zeros per class (two for regression), so that scikit-learn
    sets its own bookkeeping (classes_, its label binarizer, n_features_in_); then its
    coefficients are replaced, in the shapes that fit gave them.
    """
    width = len(coef)
    if classes is None:
        estimator.fit(np.zeros((2, width)), np.zeros(2))
        estimator.coef_, estimator.intercept_ = coef[:, 0], np.float64(intercept[0])
    else:
        estimator.fit(np.zeros((len(classes), width)), classes)
        estimator.coef_, estimator.intercept_ = coef.T.copy(), intercept


def _fit_ridge(
    source: TextChunks, hp: Hyperparameters, model: Pipeline, found: Survey, rows: int
) -> None:
    """Accumulate the encoded chunks' Gram matrix and solve the final ridge step from it."""

    def statistics(chunk: pd.DataFrame) -> CentredScatter:
        features = _transform(model, feature_array(chunk, found.schema, source.name))
        target = target_array(chunk, hp.target, hp.problem_type, source.name, found.whole_labels)
        return CentredScatter.of(features, _ridge_targets(target, found.classes))

    scatter = CentredScatter()
    for part in map_in_order(statistics, source.chunks(rows, found.plain_numbers)):
        scatter.merge(part)
    coef, intercept = scatter.ridge(hp.alpha)
    _set_solution(model.steps[-1][1], coef, intercept, found.classes)


def _fit_boosting(
    source: TextChunks, hp: Hyperparameters, model: Pipeline, found: Survey, rows: int
) -> None:
    """Load every row encoded (boosting needs them all at once) and fit the final step."""
    encoder = model.named_steps["encode"]

    def encode(chunk: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        features = encoder.transform(feature_array(chunk, found.schema, source.name))
        target = target_array(chunk, hp.target, hp.problem_type, source.name, found.whole_labels)
        return features, target

    features = np.empty((found.rows, _width(found)))
    targets, start = [], 0
    for encoded, target in map_in_order(encode, source.chunks(rows, found.plain_numbers)):
        features[start : start + len(target)] = encoded
        targets.append(target)
        start += len(target)
    model.steps[-1][1].fit(features, np.concatenate(targets))


def fit(source: TextChunks, hp: Hyperparameters, rows: int | None = None) -> Fitted:
    """The default pipeline of `train`, fitted chunk by chunk (also what scripts/quality.py
    measures); rows fixes the chunk size, else it follows the width of the features."""
    components = hp.n_components if hp.estimator == NYSTROEM_RIDGE else 0
    survey_rows = rows or chunk_rows(len(source.columns), 0)
    found = survey(
        source,
        hp.target,
        hp.problem_type,
        components,
        hp.random_state,
        survey_rows,
        hp.categorical_columns,
    )
    model = build_model(hp, found.schema, found.rows)
    encoder = model.named_steps["encode"].fit_statistics(
        len(found.schema.names), found.categories, found.moments
    )
    columns, width = len(source.columns), _width(found)
    targets = 1 if found.classes is None or len(found.classes) == 2 else len(found.classes)
    check_memory(
        hp,
        memory_needed(hp, found.rows, columns, width, targets),
        f"{hp.estimator} on {found.rows:,} rows of {width:,} encoded features",
    )
    if "rbf" in model.named_steps:
        basis = encoder.transform(feature_array(found.sample, found.schema, source.name))
        model.named_steps["rbf"].fit_basis(basis, found.sample_rows)
    rows = rows or chunk_rows(columns, model_features(hp, found.rows, width) + targets)
    if hp.estimator == HIST_GRADIENT_BOOSTING:
        _fit_boosting(source, hp, model, found, rows)
    else:
        _fit_ridge(source, hp, model, found, rows)
    schema = found.schema.with_categories([c.tolist() for c in encoder.categories_])
    return Fitted(model, schema, found, rows)


def _predict_function(model: Pipeline) -> Callable[[np.ndarray], np.ndarray]:
    """model.predict; for a kernel ridge with the normalization folded into its coefficients.

    Φw = (K Nᵀ) w = K (Nᵀ w): a matrix-vector product per chunk instead of a matrix product,
    the same predictions to rounding.
    """
    if "rbf" not in model.named_steps:
        return model.predict
    encoder, rbf = model.named_steps["encode"], model.named_steps["rbf"]
    final = copy.copy(model.steps[-1][1])
    final.coef_ = final.coef_ @ rbf.normalization_
    return lambda rows: final.predict(rbf.basis_kernel(encoder.transform(rows)))


def score_channel(
    fitted: Fitted,
    source: TextChunks,
    hp: Hyperparameters,
    numbers: Collection[str] = (),
    profile: DataProfile | None = None,
) -> Score:
    """Predict a channel chunk by chunk and score the predictions; `profile`, if given, takes
    in each chunk's features too (the train channel's baselines, without a pass of their own).

    `numbers` are columns pandas may read as floats: the train channel's plain numeric ones
    (fitted.survey.plain_numbers); another channel's cells have not been checked yet.
    """
    predict = _predict_function(fitted.model)

    def features_truth_and_prediction(
        chunk: pd.DataFrame,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        truth = target_array(
            chunk, hp.target, hp.problem_type, source.name, fitted.survey.whole_labels
        )
        features = feature_array(chunk, fitted.schema, source.name)
        return features, truth, predict(features)

    score = Score(hp.problem_type)
    chunks = source.chunks(fitted.chunk_rows, numbers)
    for features, truth, predicted in map_in_order(features_truth_and_prediction, chunks):
        score.add(truth, predicted)
        if profile is not None:
            profile.add(features)
    return score


def fit_and_save(
    hp: Hyperparameters, channels: dict[str, Path], model_dir: Path, max_channel_bytes: int
) -> None:
    """Train on the train channel, score train and validation, write model and metadata."""
    started = time.perf_counter()
    sources = {name: Channel.open(directory, name) for name, directory in channels.items()}
    for source in sources.values():
        check_channel(hp, source, max_channel_bytes)
    fitted = fit(sources["train"], hp)
    seconds = time.perf_counter() - started
    print(
        f"Trained {hp.estimator} ({hp.problem_type}) on {fitted.survey.rows} rows, "
        f"{len(fitted.schema.names)} features, in {seconds:.2f} s"
    )
    profile = DataProfile(fitted.schema, fitted.survey.ranges)
    scores = {
        name: score_channel(fitted, source, hp, fitted.survey.plain_numbers, profile)
        if name == "train"
        else score_channel(fitted, source, hp)
        for name, source in sources.items()
    }
    metrics = {name: score.figures() for name, score in scores.items()}
    metadata = {
        "target": hp.target,
        "problem_type": hp.problem_type,
        "estimator": hp.estimator,
        "hyperparameters": hp.as_strings(),
        "features": fitted.schema.to_json(),
        "metrics": metrics,
        "rows": {name: score.rows for name, score in scores.items()},
        "training_seconds": round(seconds, 3),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": library_versions(),
    }
    if hp.problem_type == CLASSIFICATION:
        metadata["classes"] = fitted.survey.classes.tolist()
    save_model(model_dir, fitted.model, metadata)
    profile.write(model_dir)
    for channel, figures in metrics.items():
        print("\n".join(metric_lines(channel, figures)))
