"""Read training channels (CSV with a header) into checked features and targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tabular_container.errors import UserError
from tabular_container.hyperparameters import REGRESSION
from tabular_container.schema import CATEGORICAL, NUMERIC, Column, Schema

HEADER_LINES = 1


class DataError(UserError):
    """A channel is missing, empty, or its data does not fit."""


def _read_csv(path: Path, channel: str) -> pd.DataFrame | None:
    """One CSV file as text columns (None when it is empty), so nothing is guessed yet."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError:
        return None
    except UnicodeDecodeError:
        raise DataError(f"channel {channel}: {path.name} is not UTF-8 text") from None
    except pd.errors.ParserError as error:
        reason = str(error).strip().splitlines()[0]
        raise DataError(f"channel {channel}: {path.name} is not valid CSV: {reason}") from None


def read_channel(directory: Path, channel: str) -> pd.DataFrame:
    """Every CSV file under a channel folder, one frame indexed by (file, row)."""
    files = sorted(
        path for path in directory.rglob("*") if path.is_file() and not path.name.startswith(".")
    )
    if not files:
        raise DataError(f"channel {channel} is empty: no files in {directory}")
    csvs = [path for path in files if path.suffix.lower() == ".csv"]
    if not csvs:
        found = ", ".join(path.name for path in files[:5])
        raise DataError(f"channel {channel} has no .csv files (found: {found})")
    frames: dict[str, pd.DataFrame] = {}
    for path in csvs:
        frame = _read_csv(path, channel)
        if frame is None:
            continue
        name = str(path.relative_to(directory))
        if frames:
            first_name, first = next(iter(frames.items()))
            if list(frame.columns) != list(first.columns):
                raise DataError(
                    f"channel {channel}: {name} has columns {list(frame.columns)}, "
                    f"but {first_name} has {list(first.columns)}"
                )
        frames[name] = frame
    if not frames or all(frame.empty for frame in frames.values()):
        raise DataError(f"channel {channel} is empty: its CSV files have no data rows")
    return pd.concat(frames.values(), keys=list(frames), names=["file", "row"])


def _numbers(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Values as floats (NaN where empty) and a mask of the ones that are not finite numbers."""
    text = values.str.strip()
    empty = text == ""
    numbers = pd.to_numeric(text.mask(empty), errors="coerce").to_numpy(dtype=float)
    bad = ~empty & ~np.isfinite(numbers)
    return numbers, bad


def _where(frame: pd.DataFrame, mask: pd.Series | np.ndarray) -> tuple[str, int, int]:
    """File, line and position index of the first row flagged by mask."""
    position = int(np.argmax(np.asarray(mask)))
    file, row = frame.index[position]
    return file, int(row) + HEADER_LINES + 1, position


def infer_schema(frame: pd.DataFrame, target: str, channel: str) -> Schema:
    """Numeric columns are those whose every non-empty value is a number; the rest categorical."""
    if target not in frame.columns:
        raise DataError(
            f"target column {target!r} not found in channel {channel}; "
            f"columns: {', '.join(frame.columns)}"
        )
    columns = []
    for name in frame.columns:
        if name == target:
            continue
        numbers, bad = _numbers(frame[name])
        numeric = not bad.any() and not np.isnan(numbers).all()
        columns.append(Column(name, NUMERIC if numeric else CATEGORICAL))
    if not columns:
        raise DataError(f"channel {channel} has no feature columns besides target {target!r}")
    return Schema(tuple(columns), target)


def feature_array(frame: pd.DataFrame, schema: Schema, channel: str) -> np.ndarray:
    """Features in model order as an object array: floats (NaN when empty) and strings."""
    missing = [name for name in schema.names if name not in frame.columns]
    if missing:
        raise DataError(f"channel {channel} lacks feature column(s): {', '.join(missing)}")
    array = np.empty((len(frame), len(schema.names)), dtype=object)
    for position, column in enumerate(schema.columns):
        if column.kind == NUMERIC:
            numbers, bad = _numbers(frame[column.name])
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


def target_array(frame: pd.DataFrame, target: str, problem_type: str, channel: str) -> np.ndarray:
    """Target values: finite numbers for regression; labels (whole numbers or text) otherwise."""
    if target not in frame.columns:
        raise DataError(f"target column {target!r} not found in channel {channel}")
    values = frame[target]
    empty = values.str.strip() == ""
    if empty.any():
        file, line, _ = _where(frame, empty)
        raise DataError(f"channel {channel}: {file} line {line} has no value for target {target}")
    numbers, bad = _numbers(values)
    if problem_type == REGRESSION:
        if bad.any():
            file, line, index = _where(frame, bad)
            raise DataError(
                f"channel {channel}: {file} line {line}, target {target}: "
                f"{values.iloc[index]!r} is not a number (for labels set problem_type="
                "classification)"
            )
        return numbers
    if not bad.any() and np.all(numbers == np.round(numbers)):
        return numbers.astype(np.int64)
    return values.to_numpy(dtype=object)
