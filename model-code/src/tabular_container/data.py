"""Read training channels (CSV with a header) as chunks of text rows, and check their cells."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np
import pandas as pd

from tabular_container.errors import UserError
from tabular_container.hyperparameters import REGRESSION
from tabular_container.numerals import EMPTY, PLAIN, text_number
from tabular_container.schema import CATEGORICAL, NUMERIC, Column, Schema

HEADER_LINES = 1
# Every cell as text, an empty one as "": nothing is guessed while reading.
TEXT = {"dtype": str, "keep_default_na": False, "na_filter": False}
WHOLE_FRAME_CHUNK_ROWS = 65_536


class DataError(UserError):
    """A channel is missing, empty, or its data does not fit."""


class TextChunks(Protocol):
    """A channel's rows as text frames indexed by (file, row), to be read as often as needed."""

    name: str

    @property
    def columns(self) -> tuple[str, ...]:
        """The header the channel's files share."""
        ...

    def chunks(self, rows: int, numbers: Collection[str] = ()) -> Iterator[pd.DataFrame]:
        """The rows in file order, at most `rows` at a time; `numbers` may come as floats."""
        ...


@contextmanager
def _reading(path: Path, channel: str) -> Iterator[None]:
    """Name the file in what goes wrong while pandas reads it."""
    try:
        yield
    except UnicodeDecodeError:
        raise DataError(f"channel {channel}: {path.name} is not UTF-8 text") from None
    except pd.errors.ParserError as error:
        reason = str(error).strip().splitlines()[0]
        raise DataError(f"channel {channel}: {path.name} is not valid CSV: {reason}") from None


@dataclass(frozen=True)
class Channel:
    """The CSV files of a channel folder, checked to share one header, read chunk by chunk."""

    name: str
    files: tuple[tuple[str, Path], ...]  # (name inside the folder, path), empty files left out
    header: tuple[str, ...]

    @classmethod
    def open(cls, directory: Path, channel: str) -> Channel:
        """Every CSV file under the folder (sub-folders too) in name order, headers checked."""
        paths = sorted(
            path
            for path in directory.rglob("*")
            if path.is_file() and not path.name.startswith(".")
        )
        if not paths:
            raise DataError(f"channel {channel} is empty: no files in {directory}")
        csvs = [path for path in paths if path.suffix.lower() == ".csv"]
        if not csvs:
            found = ", ".join(path.name for path in paths[:5])
            raise DataError(f"channel {channel} has no .csv files (found: {found})")
        files: list[tuple[str, Path]] = []
        header: list[str] = []
        has_rows = False
        for path in csvs:
            try:
                with _reading(path, channel):
                    head = pd.read_csv(path, nrows=1, **TEXT)
            except pd.errors.EmptyDataError:
                continue
            name = str(path.relative_to(directory))
            if files and list(head.columns) != header:
                raise DataError(
                    f"channel {channel}: {name} has columns {list(head.columns)}, "
                    f"but {files[0][0]} has {header}"
                )
            header = list(head.columns)
            files.append((name, path))
            has_rows = has_rows or not head.empty
        if not has_rows:
            raise DataError(f"channel {channel} is empty: its CSV files have no data rows")
        return cls(channel, tuple(files), tuple(header))

    @property
    def columns(self) -> tuple[str, ...]:
        """The header the channel's files share."""
        return self.header

    @property
    def size(self) -> int:
        """Bytes of CSV in the channel."""
        return sum(path.stat().st_size for _, path in self.files)

    @property
    def head(self) -> bytes:
        """The first MiB of the first file: a sample of the rows' length in bytes."""
        with self.files[0][1].open("rb") as handle:
            return handle.read(1 << 20)

    def chunks(self, rows: int, numbers: Collection[str] = ()) -> Iterator[pd.DataFrame]:
        """The rows of each file in turn, at most `rows` at a time, indexed by (file, row).

        Columns named in `numbers` come as floats, NaN for an empty cell, parsed by pandas' C
        reader (2.2 s for the 8 numeric columns of a 200 MB CSV, against 19 s as text and then
        numbers), with the same values for columns whose cells are all empty or numbers without
        other spaces around them (to the last bit, but for the odd number of 17 or more digits,
        one unit in the last place apart).
        """
        options = {
            **TEXT,
            "dtype": {column: float if column in numbers else str for column in self.header},
            "na_filter": bool(numbers),
            "na_values": {column: [""] for column in numbers},
        }
        for name, path in self.files:
            start = 0
            with _reading(path, self.name):
                for chunk in pd.read_csv(path, chunksize=rows, **options):
                    if chunk.empty:
                        continue
                    positions = np.arange(len(chunk))
                    chunk.index = pd.MultiIndex(
                        levels=[[name], positions + start],
                        codes=[np.zeros_like(positions), positions],
                        names=["file", "row"],
                        verify_integrity=False,
                    )
                    start += len(chunk)
                    yield chunk


@dataclass(frozen=True)
class FrameChannel:
    """A channel already in memory, as a text frame indexed by (file, row): quality.py's folds."""

    name: str
    frame: pd.DataFrame

    @property
    def columns(self) -> tuple[str, ...]:
        """The frame's columns."""
        return tuple(self.frame.columns)

    def chunks(self, rows: int, numbers: Collection[str] = ()) -> Iterator[pd.DataFrame]:
        """Consecutive slices of the frame (as text: `numbers` is only a permission)."""
        for start in range(0, len(self.frame), rows):
            yield self.frame.iloc[start : start + rows]


def read_channel(directory: Path, channel: str) -> pd.DataFrame:
    """A whole (small) channel as one text frame indexed by (file, row)."""
    return pd.concat(list(Channel.open(directory, channel).chunks(WHOLE_FRAME_CHUNK_ROWS)))


class Numbers(NamedTuple):
    """A column's cells read as numbers."""

    values: np.ndarray  # floats, NaN where a cell is empty
    bad: np.ndarray  # cells that are not finite numbers
    padded: np.ndarray  # cells read only once stripped of whitespace (or only whitespace)


def parse_numbers(values: pd.Series) -> Numbers:
    """Cells as numbers, as `numerals.text_number` reads each: the same reading as serving's.

    `pd.to_numeric` reads most cells at C speed, and every finite number it reads from a cell
    without a leading "+" is one text_number reads alike (tests/test_numerals.py holds both to
    it); only the other cells (signed with "+", empty, padded with other spaces, not numbers) go
    to text_number, once per distinct text.
    A column pandas already read as floats (Channel.chunks' `numbers`) is taken as it is.
    """
    if values.dtype.kind == "f":
        numbers = values.to_numpy()
        return Numbers(numbers, np.isinf(numbers), np.zeros(len(numbers), dtype=bool))
    raw = values.to_numpy(dtype=object)
    numbers = pd.to_numeric(raw, errors="coerce").astype(float, copy=False)
    # pandas reads a leading "+" less precisely (`+7e36` one unit in the last place off
    # `float`'s), so those cells are read again too.
    signed = np.fromiter((cell.lstrip().startswith("+") for cell in raw), bool, len(raw))
    retry = ~np.isfinite(numbers) | signed
    bad, padded = np.zeros(len(numbers), dtype=bool), np.zeros(len(numbers), dtype=bool)
    if retry.any():
        codes, texts = pd.factorize(raw[retry])
        read = [text_number(text) for text in texts]
        refused = np.array([number is None for number in read])
        numbers[retry] = np.array([EMPTY if n is None else n for n in read], dtype=float)[codes]
        bad[retry] = refused[codes]
        padded[retry] = (~refused & (texts != ""))[codes]
    return Numbers(numbers, bad, padded)


def _where(frame: pd.DataFrame, mask: pd.Series | np.ndarray) -> tuple[str, int, int]:
    """File, line and position index of the first row flagged by mask."""
    position = int(np.argmax(np.asarray(mask)))
    file, row = frame.index[position]
    return file, int(row) + HEADER_LINES + 1, position


def check_target(columns: Sequence[str], target: str, channel: str) -> None:
    """Refuse a channel without the target column, naming the columns it has."""
    if target not in columns:
        raise DataError(
            f"target column {target!r} not found in channel {channel}; "
            f"columns: {', '.join(columns)}"
        )


def schema_of(
    columns: Sequence[str], target: str, numeric: Mapping[str, bool], channel: str
) -> Schema:
    """The feature columns in header order, each numeric or categorical as `numeric` says."""
    features = tuple(
        Column(name, NUMERIC if numeric[name] else CATEGORICAL)
        for name in columns
        if name != target
    )
    if not features:
        raise DataError(f"channel {channel} has no feature columns besides target {target!r}")
    return Schema(features, target)


@dataclass
class Tally:
    """A column's non-empty cells, chunk by chunk: how many are numbers, how many not, and the
    first that is not, so that one typo among numbers is an error instead of a new schema."""

    numbers: int = 0
    others: int = 0
    first_other: tuple[str, int, str] | None = None  # file, line, text

    def add(self, frame: pd.DataFrame, column: str, read: Numbers) -> None:
        """Count the cells of `column` in a chunk, as parse_numbers read them."""
        self.numbers += int(np.count_nonzero(~np.isnan(read.values) & ~read.bad))
        others = int(np.count_nonzero(read.bad))
        if others and self.first_other is None:
            file, line, index = _where(frame, read.bad)
            self.first_other = (file, line, frame[column].iloc[index])
        self.others += others

    @property
    def numeric(self) -> bool:
        """The schema rule: a column is numeric when most of its non-empty cells are numbers."""
        return self.numbers > self.others

    def check(self, column: str, channel: str) -> None:
        """Refuse a numeric column with any cell that is not a number, naming the first."""
        if self.numeric and self.first_other is not None:
            file, line, text = self.first_other
            raise DataError(
                f"channel {channel}: {file} line {line}, column {column}: {text!r} is not a "
                f"number, yet {self.numbers:,} of the column's {self.numbers + self.others:,} "
                f"non-empty cells are ({self.others:,} not); {PLAIN}, or list the column in "
                "hyperparameter categorical_columns"
            )


def check_categorical(
    columns: Sequence[str], target: str, categorical: Collection[str], channel: str
) -> None:
    """Refuse categorical_columns naming the target or a column the channel lacks."""
    unknown = [name for name in categorical if name not in columns or name == target]
    if unknown:
        raise DataError(
            f"hyperparameter categorical_columns names {', '.join(unknown)}, not feature "
            f"column(s) of channel {channel}; columns: {', '.join(columns)}"
        )


def infer_schema(
    frame: pd.DataFrame, target: str, channel: str, categorical: Collection[str] = ()
) -> Schema:
    """The schema of a whole frame by Tally's rule; `categorical` columns are so whatever holds."""
    check_target(list(frame.columns), target, channel)
    check_categorical(list(frame.columns), target, categorical, channel)
    numeric = {name: False for name in categorical}
    for name in frame.columns:
        if name != target and name not in categorical:
            tally = Tally()
            tally.add(frame, name, parse_numbers(frame[name]))
            tally.check(name, channel)
            numeric[name] = tally.numeric
    return schema_of(list(frame.columns), target, numeric, channel)


def feature_array(frame: pd.DataFrame, schema: Schema, channel: str) -> np.ndarray:
    """Features in model order as an object array: floats (NaN when empty) and strings."""
    missing = [name for name in schema.names if name not in frame.columns]
    if missing:
        raise DataError(f"channel {channel} lacks feature column(s): {', '.join(missing)}")
    array = np.empty((len(frame), len(schema.names)), dtype=object)
    for position, column in enumerate(schema.columns):
        if column.kind == NUMERIC:
            numbers, bad, _ = parse_numbers(frame[column.name])
            if bad.any():
                file, line, index = _where(frame, bad)
                value = frame[column.name].iloc[index]
                raise DataError(
                    f"channel {channel}: {file} line {line}, column {column.name}: "
                    f"{value!r} is not a number"
                )
            array[:, position] = numbers
        else:
            array[:, position] = frame[column.name].to_numpy(dtype=object)
    return array


def target_array(
    frame: pd.DataFrame,
    target: str,
    problem_type: str,
    channel: str,
    whole_labels: bool | None = None,
) -> np.ndarray:
    """Target values: finite numbers for regression; labels (whole numbers or text) otherwise.

    Labels are whole numbers when every one in the frame is, else text; whole_labels fixes that
    choice instead, as the train channel made it over all its chunks.
    """
    if target not in frame.columns:
        raise DataError(f"target column {target!r} not found in channel {channel}")
    values = frame[target]
    numbers, bad, _ = parse_numbers(values)
    empty = np.isnan(numbers) & ~bad
    if empty.any():
        file, line, _ = _where(frame, empty)
        raise DataError(f"channel {channel}: {file} line {line} has no value for target {target}")
    if problem_type == REGRESSION:
        if bad.any():
            file, line, index = _where(frame, bad)
            raise DataError(
                f"channel {channel}: {file} line {line}, target {target}: "
                f"{values.iloc[index]!r} is not a number (for labels set problem_type="
                "classification)"
            )
        return numbers
    fractional = bad | (numbers != np.round(numbers))
    if whole_labels is None:
        whole_labels = not fractional.any()
    if not whole_labels:
        return values.to_numpy(dtype=object)
    if fractional.any():
        file, line, index = _where(frame, fractional)
        raise DataError(
            f"channel {channel}: {file} line {line}, target {target}: {values.iloc[index]!r} "
            "is not a whole number, and the train channel's labels all are"
        )
    return numbers.astype(np.int64)
