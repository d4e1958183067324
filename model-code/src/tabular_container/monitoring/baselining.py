"""Baselining: statistics.json and suggested constraints.json of a data set (CSV or JSON lines).

Data quality does what `train` does for the train channel, with the same code: one pass to learn
each column's kind (data.Tally's rule) and range, one to feed baseline.DataProfile the feature
arrays data.feature_array reads, in chunks of capacity.chunk_rows rows. So the baseline of the
train channel, given ground_truth_attribute=<target> (or exclude_features_attribute) to leave
the label out, is the one `train` wrote in the model's baselines/ (the KLL sketch depends on the
chunk size, which is the same whenever the channel fits one chunk of either, as abalone does).

Model quality reads the inference_attribute and ground_truth_attribute columns as numbers and
writes the regression metrics, and constraints that each metric be no worse.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tabular_container.baseline import DataProfile
from tabular_container.capacity import chunk_rows
from tabular_container.data import (
    TEXT,
    Channel,
    DataError,
    Tally,
    TextChunks,
    feature_array,
    parse_numbers,
)
from tabular_container.errors import UserError
from tabular_container.monitoring import model_quality
from tabular_container.monitoring.constants import (
    CSV_FORMAT,
    DATASET_SOURCE_ENV,
    GROUND_TRUTH_ATTRIBUTE_ENV,
    INFERENCE_ATTRIBUTE_ENV,
)
from tabular_container.monitoring.records import data_files
from tabular_container.monitoring.settings import MonitorSettings
from tabular_container.schema import CATEGORICAL, NUMERIC, Column, Schema

NAME = "baseline dataset"


def _indexed(frame: pd.DataFrame, name: str, start: int) -> pd.DataFrame:
    frame.index = pd.MultiIndex.from_arrays(
        [[name] * len(frame), np.arange(start, start + len(frame))], names=["file", "row"]
    )
    return frame


@dataclass(frozen=True)
class _Files:
    """CSV without a header (columns _c0, _c1, ...) or JSON lines, as text frames."""

    name: str
    files: tuple[Path, ...]
    kind: str
    header: tuple[str, ...]

    @classmethod
    def open(cls, source: Path, kind: str) -> _Files:
        files = tuple(data_files(source, suffix=None))
        if not files:
            raise UserError(f"{DATASET_SOURCE_ENV} {source} holds no files")
        self = cls(NAME, files, kind, ())
        first = next(self._frames(1), None)
        if first is None:
            raise UserError(f"{DATASET_SOURCE_ENV} {source} holds no records")
        return cls(NAME, files, kind, tuple(first.columns))

    @property
    def columns(self) -> tuple[str, ...]:
        return self.header

    def _frames(self, rows: int) -> Iterator[pd.DataFrame]:
        for path in self.files:
            start = 0
            try:
                if self.kind == CSV_FORMAT:
                    reader = pd.read_csv(path, header=None, chunksize=rows, **TEXT)
                else:
                    reader = pd.read_json(path, lines=True, chunksize=rows, dtype=False)
                for frame in reader:
                    if self.kind == CSV_FORMAT:
                        frame.columns = [f"_c{i}" for i in range(frame.shape[1])]
                    else:
                        frame = frame.astype(object).where(frame.notna(), "").map(str)
                    yield _indexed(frame, path.name, start)
                    start += len(frame)
            except (ValueError, pd.errors.ParserError) as error:
                raise DataError(f"{path} cannot be read as {self.kind}: {error}") from None

    def chunks(self, rows: int, numbers: Collection[str] = ()) -> Iterator[pd.DataFrame]:
        return self._frames(rows)


def open_source(settings: MonitorSettings) -> TextChunks:
    """The data set: CSV files with one header (as a training channel), or _Files."""
    form = settings.dataset_format
    assert form is not None
    if form.kind == CSV_FORMAT and form.header:
        source = settings.dataset_source
        if source.is_file():
            return _SingleFile.open(source)
        return Channel.open(source, NAME)
    return _Files.open(settings.dataset_source, form.kind)


@dataclass(frozen=True)
class _SingleFile:
    """One CSV file with a header, given as dataset_source itself."""

    name: str
    path: Path
    header: tuple[str, ...]

    @classmethod
    def open(cls, path: Path) -> _SingleFile:
        return cls(NAME, path, tuple(pd.read_csv(path, nrows=0, **TEXT).columns))

    @property
    def columns(self) -> tuple[str, ...]:
        return self.header

    def chunks(self, rows: int, numbers: Collection[str] = ()) -> Iterator[pd.DataFrame]:
        start = 0
        for frame in pd.read_csv(self.path, chunksize=rows, **TEXT):
            yield _indexed(frame, self.path.name, start)
            start += len(frame)


def data_quality(source: TextChunks, excluded: Collection[str]) -> DataProfile:
    """The profile of every feature column (all columns but the excluded), as `train` makes it."""
    names = [name for name in source.columns if name not in excluded]
    if not names:
        raise UserError(f"the {NAME} has no columns besides {', '.join(excluded)}")
    rows = chunk_rows(len(source.columns), 0)
    tallies = {name: Tally() for name in names}
    low = dict.fromkeys(names, np.inf)
    high = dict.fromkeys(names, -np.inf)
    for chunk in source.chunks(rows):
        for name in names:
            read = parse_numbers(chunk[name])
            tallies[name].add(chunk, name, read)
            if not np.isnan(read.values).all():
                low[name] = min(low[name], float(np.nanmin(read.values)))
                high[name] = max(high[name], float(np.nanmax(read.values)))
    for name, tally in tallies.items():
        tally.check(name, NAME)
    schema = Schema(
        tuple(Column(n, NUMERIC if tallies[n].numeric else CATEGORICAL) for n in names), ""
    )
    ranges = tuple(
        (low[n], high[n]) if np.isfinite(low[n]) else (0.0, 0.0)
        for n in names
        if tallies[n].numeric
    )
    profile = DataProfile(schema, ranges)
    for chunk in source.chunks(rows):
        profile.add(feature_array(chunk, schema, NAME))
    return profile


def _column(chunk: pd.DataFrame, attribute: str, variable: str) -> np.ndarray:
    name = attribute if attribute in chunk.columns else f"_c{attribute}"
    if name not in chunk.columns:
        raise UserError(
            f"{variable}={attribute!r} is not a column of the {NAME} "
            f"(columns: {', '.join(map(str, chunk.columns))})"
        )
    read = parse_numbers(chunk[name])
    if read.bad.any() or np.isnan(read.values).any():
        raise UserError(f"{variable} column {attribute!r} holds cells that are not numbers")
    return read.values


def model_quality_statistics(source: TextChunks, settings: MonitorSettings) -> dict[str, Any]:
    """The regression metrics of the predictions and labels columns."""
    assert settings.inference_attribute and settings.ground_truth_attribute
    predicted, actual = [], []
    for chunk in source.chunks(chunk_rows(len(source.columns), 0)):
        predicted.append(_column(chunk, settings.inference_attribute, INFERENCE_ATTRIBUTE_ENV))
        actual.append(_column(chunk, settings.ground_truth_attribute, GROUND_TRUTH_ATTRIBUTE_ENV))
    return model_quality.statistics(np.concatenate(actual), np.concatenate(predicted))


def write_json(path: Path, document: dict[str, Any]) -> None:
    """A report file, indented as baseline.py writes its own."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")
