#!/usr/bin/env python3
"""Measure the container's default model on abalone: 10-fold CV and the pipeline's test split.

Usage: quality.py DATAFILE   (the raw headerless UCI abalone.data)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
from prepare_data import DataError, read_abalone, split_dataset
from sklearn.model_selection import KFold, cross_validate

from tabular_container.estimators import build_model
from tabular_container.fitting import fit, training_arrays
from tabular_container.hyperparameters import Hyperparameters
from tabular_container.metrics import score

FOLDS = 10
CV_SCORING = {
    "mse": "neg_mean_squared_error",
    "rmse": "neg_root_mean_squared_error",
    "mae": "neg_mean_absolute_error",
    "r2": "r2",
}


def as_channel(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The frame as `train` reads a channel: text cells, indexed by (file, row)."""
    text = frame.astype(str).reset_index(drop=True)
    return pd.concat({f"{name}.csv": text}, names=["file", "row"])


def cross_validated(frame: pd.DataFrame, hp: Hyperparameters) -> dict[str, float]:
    """Mean of each metric over shuffled K folds (random_state 0) of the whole data set."""
    schema, features, target = training_arrays(as_channel(frame, "all"), hp, "all")
    model = build_model(hp, schema, len(features))
    folds = KFold(FOLDS, shuffle=True, random_state=0)
    results = cross_validate(model, features, target, cv=folds, scoring=CV_SCORING)
    figures = {name: float(abs(results[f"test_{name}"].mean())) for name in CV_SCORING}
    figures["r2"] = float(results["test_r2"].mean())
    return figures


def split_figures(frame: pd.DataFrame, hp: Hyperparameters) -> tuple[float, dict[str, dict]]:
    """Fit on the train split as `train` does (seconds taken), score validation and test."""
    splits = split_dataset(frame)
    started = time.perf_counter()
    schema, features, target = training_arrays(as_channel(splits["train"], "train"), hp, "train")
    model = fit(features, target, hp, schema)
    seconds = time.perf_counter() - started
    figures = {}
    for name in ("validation", "test"):
        _, held_features, held_target = training_arrays(as_channel(splits[name], name), hp, name)
        figures[name] = score(hp.problem_type, held_target, model.predict(held_features))
    return seconds, figures


def main(argv: list[str] | None = None) -> int:
    """Print the figures the README and the quality gate quote."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datafile", type=Path, help="raw abalone.data (no header)")
    args = parser.parse_args(argv)
    try:
        frame = read_abalone(args.datafile)
    except DataError as error:
        print(f"quality: error: {error}", file=sys.stderr)
        return 1
    hp = Hyperparameters()
    print(f"Default model: {hp.estimator} {hp.as_strings()}")
    cv = cross_validated(frame, hp)
    print(f"{f'{FOLDS}-fold CV:':<18}" + "  ".join(f"{k}={v:.4f}" for k, v in cv.items()))
    seconds, splits = split_figures(frame, hp)
    print(f"Fit on the train split in {seconds:.2f} s")
    for name, figures in splits.items():
        print(f"{name + ' split:':<18}" + "  ".join(f"{k}={v:.4f}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
