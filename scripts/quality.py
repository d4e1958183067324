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
from sklearn.model_selection import KFold

from tabular_container.data import FrameChannel
from tabular_container.fitting import fit, score_channel
from tabular_container.hyperparameters import Hyperparameters

FOLDS = 10


def as_channel(frame: pd.DataFrame, name: str) -> FrameChannel:
    """The frame as `train` reads a channel: text cells, indexed by (file, row)."""
    text = frame.astype(str).reset_index(drop=True)
    return FrameChannel(name, pd.concat({f"{name}.csv": text}, names=["file", "row"]))


def cross_validated(frame: pd.DataFrame, hp: Hyperparameters) -> dict[str, float]:
    """Mean of each metric over shuffled K folds (random_state 0) of the whole data set, each
    fold fitted chunk by chunk as `train` fits."""
    folds = KFold(FOLDS, shuffle=True, random_state=0).split(frame)
    results = []
    for train, test in folds:
        fitted = fit(as_channel(frame.iloc[train], "train"), hp)
        results.append(score_channel(fitted, as_channel(frame.iloc[test], "test"), hp).figures())
    return {name: sum(fold[name] for fold in results) / FOLDS for name in results[0]}


def split_figures(frame: pd.DataFrame, hp: Hyperparameters) -> tuple[float, dict[str, dict]]:
    """Fit on the train split as `train` does (seconds taken), score validation and test."""
    splits = split_dataset(frame)
    started = time.perf_counter()
    fitted = fit(as_channel(splits["train"], "train"), hp)
    seconds = time.perf_counter() - started
    figures = {
        name: score_channel(fitted, as_channel(splits[name], name), hp).figures()
        for name in ("validation", "test")
    }
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
