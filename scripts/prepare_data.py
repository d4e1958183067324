#!/usr/bin/env python3
"""Split the raw UCI abalone file into the train/validation/test channels the pipeline uses.

Usage: prepare_data.py OUTDIR [--seed N] [--input PATH]

Writes OUTDIR/train/train.csv, OUTDIR/validation/validation.csv and OUTDIR/test/test.csv
(header row, target `rings`), 70/15/15, stratified on bins of rings. The same input and seed
give byte-identical files; on any error nothing is written.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INPUT = REPO_ROOT / "data" / "abalone" / "abalone.data"
COLUMNS = [
    "sex",
    "length",
    "diameter",
    "height",
    "whole_weight",
    "shucked_weight",
    "viscera_weight",
    "shell_weight",
    "rings",
]
TARGET = "rings"
SEXES = {"M", "F", "I"}
SPLIT_FRACTIONS = {"train": 0.70, "validation": 0.15, "test": 0.15}
RINGS_BINS = 10
DEFAULT_SEED = 42


class DataError(ValueError):
    """The input file is not the abalone data we expect."""


def read_abalone(path: Path) -> pd.DataFrame:
    """Read the headerless UCI file into typed columns, refusing anything malformed."""
    try:
        frame = pd.read_csv(
            path, header=None, dtype=str, keep_default_na=False, skip_blank_lines=True
        )
    except FileNotFoundError:
        raise DataError(f"input file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read {path}: {error}") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"input file is empty: {path}") from None
    except pd.errors.ParserError as error:
        raise DataError(f"{path} is not comma-separated text: {error}") from None
    if frame.shape[1] != len(COLUMNS):
        raise DataError(
            f"{path} has {frame.shape[1]} columns per row, expected {len(COLUMNS)} "
            f"({', '.join(COLUMNS)})"
        )
    frame.columns = COLUMNS
    bad_sex = ~frame["sex"].isin(SEXES)
    if bad_sex.any():
        row = int(bad_sex.idxmax()) + 1
        raise DataError(f"{path} line {row}: sex {frame['sex'][row - 1]!r} is not one of M, F, I")
    for column in COLUMNS[1:]:
        numbers = pd.to_numeric(frame[column], errors="coerce")
        if numbers.isna().any():
            row = int(numbers.isna().idxmax()) + 1
            raise DataError(
                f"{path} line {row}: column {column} value {frame[column][row - 1]!r} "
                "is not a number"
            )
        frame[column] = numbers
    if (frame[TARGET] % 1 != 0).any():
        raise DataError(f"{path}: column {TARGET} must hold whole numbers")
    frame[TARGET] = frame[TARGET].astype(int)
    return frame


def split_dataset(frame: pd.DataFrame, seed: int = DEFAULT_SEED) -> dict[str, pd.DataFrame]:
    """Split 70/15/15, stratified on quantile bins of rings so every split spans all ages."""
    bins = pd.qcut(frame[TARGET], q=RINGS_BINS, labels=False, duplicates="drop")
    test_size = SPLIT_FRACTIONS["test"]
    rest, test = train_test_split(frame, test_size=test_size, random_state=seed, stratify=bins)
    validation_share = SPLIT_FRACTIONS["validation"] / (1 - test_size)
    train, validation = train_test_split(
        rest, test_size=validation_share, random_state=seed, stratify=bins.loc[rest.index]
    )
    return {"train": train, "validation": validation, "test": test}


def write_splits(splits: dict[str, pd.DataFrame], outdir: Path) -> dict[str, Path]:
    """Write the splits to a scratch folder, then move them in: a failure leaves nothing."""
    outdir.parent.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(dir=outdir.parent, prefix=f".{outdir.name}-") as scratch:
        for name, split in splits.items():
            path = Path(scratch) / name / f"{name}.csv"
            path.parent.mkdir()
            split.to_csv(path, index=False, lineterminator="\n")
        outdir.mkdir(exist_ok=True)
        for name in splits:
            target = outdir / name / f"{name}.csv"
            target.parent.mkdir(exist_ok=True)
            shutil.move(str(Path(scratch) / name / f"{name}.csv"), target)
            written[name] = target
    return written


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line; argparse reports bad arguments on one line and exits 2."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="folder to write train/, validation/, test/ to")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"split seed (default {DEFAULT_SEED})"
    )
    parser.add_argument(
        "--input", type=Path, default=DEFAULT_INPUT, help="raw abalone.data file (UCI format)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Prepare the splits and say where they went."""
    args = parse_args(argv)
    if args.outdir.exists() and not args.outdir.is_dir():
        print(f"prepare_data: error: {args.outdir} exists and is not a folder", file=sys.stderr)
        return 1
    try:
        splits = split_dataset(read_abalone(args.input), seed=args.seed)
        written = write_splits(splits, args.outdir)
    except (DataError, OSError) as error:
        print(f"prepare_data: error: {error}", file=sys.stderr)
        return 1
    for name, path in written.items():
        print(f"{name:<10} {len(splits[name]):>5} rows  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
