"""Fit the pipeline on the train channel, score it, and write the model directory."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from tabular_container.artifacts import library_versions, save_model
from tabular_container.data import (
    DataError,
    feature_array,
    infer_schema,
    read_channel,
    target_array,
)
from tabular_container.estimators import build_model
from tabular_container.hyperparameters import CLASSIFICATION, Hyperparameters
from tabular_container.metrics import metric_lines, score
from tabular_container.schema import Schema


def training_arrays(
    frame: pd.DataFrame, hp: Hyperparameters, channel: str
) -> tuple[Schema, np.ndarray, np.ndarray]:
    """Schema inferred from a text frame, its features in model order, and the target."""
    schema = infer_schema(frame, hp.target, channel)
    features = feature_array(frame, schema, channel)
    target = target_array(frame, hp.target, hp.problem_type, channel)
    if hp.problem_type == CLASSIFICATION and len(np.unique(target)) < 2:
        raise DataError(
            f"target {hp.target} has a single class in channel {channel}; "
            "classification needs at least two"
        )
    return schema, features, target


def fit(features: np.ndarray, target: np.ndarray, hp: Hyperparameters, schema: Schema) -> Pipeline:
    """The default pipeline of `train`, fitted (also what scripts/quality.py measures)."""
    return build_model(hp, schema, len(features)).fit(features, target)


def fit_and_save(hp: Hyperparameters, channels: dict[str, Path], model_dir: Path) -> None:
    """Train on the train channel, score train and validation, write model and metadata."""
    started = time.perf_counter()
    schema, features, target = training_arrays(
        read_channel(channels["train"], "train"), hp, "train"
    )
    model = fit(features, target, hp, schema)
    seconds = time.perf_counter() - started
    schema = schema.with_categories(
        [categories.tolist() for categories in model.named_steps["encode"].categories_]
    )
    print(
        f"Trained {hp.estimator} ({hp.problem_type}) on {len(features)} rows, "
        f"{len(schema.names)} features, in {seconds:.2f} s"
    )
    metrics = {"train": score(hp.problem_type, target, model.predict(features))}
    rows = {"train": len(features)}
    if "validation" in channels:
        frame = read_channel(channels["validation"], "validation")
        truth = target_array(frame, hp.target, hp.problem_type, "validation")
        predicted = model.predict(feature_array(frame, schema, "validation"))
        metrics["validation"] = score(hp.problem_type, truth, predicted)
        rows["validation"] = len(truth)
    metadata = {
        "target": hp.target,
        "problem_type": hp.problem_type,
        "estimator": hp.estimator,
        "hyperparameters": hp.as_strings(),
        "features": schema.to_json(),
        "metrics": metrics,
        "rows": rows,
        "training_seconds": round(seconds, 3),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": library_versions(),
    }
    if hp.problem_type == CLASSIFICATION:
        metadata["classes"] = np.unique(target).tolist()
    save_model(model_dir, model, metadata)
    for channel, figures in metrics.items():
        print("\n".join(metric_lines(channel, figures)))
