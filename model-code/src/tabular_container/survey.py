"""The first pass over the train channel: what fitting needs to know before it reads the rows.

Chunk by chunk, without keeping rows: the row count, which columns are numeric (data.Tally's
rule, unless declared categorical), the numeric columns' mean, spread and range, the categories,
the class labels, and a seeded sample of rows for the kernel basis.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tabular_container.data import (
    DataError,
    Tally,
    TextChunks,
    check_categorical,
    check_target,
    parse_numbers,
    schema_of,
    target_array,
)
from tabular_container.hyperparameters import CLASSIFICATION, REGRESSION
from tabular_container.schema import NUMERIC, Schema
from tabular_container.streaming import Moments

# One-hot columns per categorical feature, and classes, at most: wider encodings (an id column
# read as categories) would not fit in memory, so they fail with a reason instead.
MAX_CATEGORIES = 20_000


@dataclass
class _Column:
    """What one chunk after another says about a feature column."""

    name: str
    declared: bool = False  # in categorical_columns: categorical, no number read
    tally: Tally = field(default_factory=Tally)
    padded: bool = False  # some cell reads as a number (or empty) only once stripped
    moments: Moments = field(default_factory=lambda: Moments(1))
    low: float = np.inf  # the least and greatest number read (the baseline's bucket range)
    high: float = -np.inf
    distinct: set[str] | None = field(default_factory=set)  # None once over MAX_CATEGORIES

    def add(self, chunk: pd.DataFrame) -> None:
        values = chunk[self.name]
        if self.distinct is not None:
            self.distinct.update(pd.unique(values.to_numpy(dtype=object)))
            if len(self.distinct) > MAX_CATEGORIES:
                self.distinct = None
        if self.declared:
            return
        read = parse_numbers(values)
        self.tally.add(chunk, self.name, read)
        self.padded = self.padded or read.padded.any()
        self.moments.add(read.values[:, None])  # a cell that is no number is NaN: left out
        if not np.isnan(read.values).all():
            self.low = min(self.low, float(np.nanmin(read.values)))
            self.high = max(self.high, float(np.nanmax(read.values)))

    @property
    def numeric(self) -> bool:
        return not self.declared and self.tally.numeric

    def check(self, channel: str) -> None:
        """Refuse a numeric column with cells that are not numbers, or too wide a categorical."""
        self.tally.check(self.name, channel)
        if not self.numeric and self.distinct is None:
            raise DataError(
                f"column {self.name} of channel {channel} is categorical (most of its values "
                f"are not numbers, or categorical_columns lists it) with more than "
                f"{MAX_CATEGORIES:,} distinct values, too many to one-hot encode; drop it or "
                "make it numeric"
            )


@dataclass(frozen=True)
class Survey:
    """The train channel as fitting needs it before it reads the rows again."""

    rows: int
    schema: Schema
    categories: list[np.ndarray]  # of each categorical feature, in model order, sorted
    moments: Moments  # of the numeric features, in model order
    ranges: tuple[tuple[float, float], ...]  # (least, greatest) of each numeric feature, in order
    classes: np.ndarray | None  # classification: the sorted labels
    whole_labels: bool | None  # classification: whether the labels are whole numbers
    sample: pd.DataFrame  # the sampled rows, as text
    sample_rows: np.ndarray  # their positions in the channel
    plain_numbers: tuple[str, ...]  # numeric columns pandas can read as floats (Channel.chunks)


class _Sample:
    """A seeded uniform sample of k rows: those whose random keys, drawn row by row, are least.

    The keys come from one generator in row order, so the sample depends on the seed and the
    rows, never on the chunk size.
    """

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.random = np.random.default_rng(seed)
        self.keys = np.zeros(0)
        self.rows = np.zeros(0, dtype=np.int64)
        self.frame: pd.DataFrame | None = None

    def add(self, chunk: pd.DataFrame, start: int) -> None:
        if self.size == 0:
            return
        keys = self.random.random(len(chunk))
        if len(self.keys) == self.size:
            candidates = np.flatnonzero(keys < self.keys[-1])
        else:
            candidates = np.arange(len(chunk))
        keys = np.concatenate([self.keys, keys[candidates]])
        rows = np.concatenate([self.rows, start + candidates])
        frames = [chunk.iloc[candidates]]
        if self.frame is not None:
            frames.insert(0, self.frame)
        keep = np.lexsort((rows, keys))[: self.size]
        frame = pd.concat(frames).iloc[keep]
        # A chunk's (file, row) index lists every row of the chunk; keep only the sample's.
        frame.index = frame.index.remove_unused_levels()
        self.keys, self.rows, self.frame = keys[keep], rows[keep], frame


def survey(
    source: TextChunks,
    target: str,
    problem_type: str,
    sample_size: int,
    seed: int,
    chunk_rows: int,
    categorical: Collection[str] = (),
) -> Survey:
    """Read the channel once; fail on the first bad target, or on a bad cell or too wide an
    encoding once every row is counted (a declared categorical column as soon as it is)."""
    check_target(source.columns, target, source.name)
    check_categorical(source.columns, target, categorical, source.name)
    columns = {
        name: _Column(name, declared=name in categorical)
        for name in source.columns
        if name != target
    }
    texts: set[str] = set()  # the labels as written
    wholes: set[int] = set()  # and as whole numbers, while every one is
    whole_labels = True
    sample = _Sample(sample_size, seed)
    padded_target = False
    rows = 0
    for chunk in source.chunks(chunk_rows):
        for column in columns.values():
            column.add(chunk)
            if column.declared:
                column.check(source.name)
        if problem_type == REGRESSION:
            numbers, bad, padded = parse_numbers(chunk[target])
            if bad.any() or np.isnan(numbers).any():
                target_array(chunk, target, REGRESSION, source.name)  # names the first bad row
            padded_target = padded_target or padded.any()
        else:
            values = target_array(chunk, target, CLASSIFICATION, source.name)
            whole_labels = whole_labels and values.dtype == np.int64
            if whole_labels:
                wholes.update(np.unique(values).tolist())
            texts.update(pd.unique(chunk[target].to_numpy(dtype=object)))
            if len(texts) > MAX_CATEGORIES:
                raise DataError(
                    f"target {target} has more than {MAX_CATEGORIES:,} distinct labels in "
                    f"channel {source.name}; classification takes at most that many"
                )
        sample.add(chunk, rows)
        rows += len(chunk)
    if rows == 0:
        raise DataError(f"channel {source.name} is empty: it has no data rows")
    for column in columns.values():
        column.check(source.name)
    schema = schema_of(
        source.columns, target, {name: c.numeric for name, c in columns.items()}, source.name
    )
    categorical = [columns[c.name] for c in schema.columns if c.kind != NUMERIC]
    numeric = [columns[c.name].moments for c in schema.columns if c.kind == NUMERIC]
    classes = None
    if problem_type == CLASSIFICATION:
        if whole_labels:
            classes = np.array(sorted(wholes), dtype=np.int64)
        else:
            classes = np.unique(np.array(list(texts), dtype=object))
        if len(classes) < 2:
            raise DataError(
                f"target {target} has a single class in channel {source.name}; "
                "classification needs at least two"
            )
    return Survey(
        rows=rows,
        schema=schema,
        categories=[np.unique(np.array(list(c.distinct), dtype=str)) for c in categorical],
        moments=Moments.side_by_side(numeric),
        ranges=tuple(
            (columns[c.name].low, columns[c.name].high) for c in schema.columns if c.kind == NUMERIC
        ),
        classes=classes,
        whole_labels=whole_labels if problem_type == CLASSIFICATION else None,
        sample=sample.frame if sample.frame is not None else pd.DataFrame(columns=source.columns),
        sample_rows=sample.rows,
        plain_numbers=tuple(
            [c.name for c in schema.columns if c.kind == NUMERIC and not columns[c.name].padded]
            + ([target] if problem_type == REGRESSION and not padded_target else [])
        ),
    )
