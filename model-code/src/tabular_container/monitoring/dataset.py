"""The analysed records' features: typed columns gathered chunk by chunk, then profiled.

Cells arrive as text (bodies.InputDecoder). Numeric features are read as `train` reads CSV
(data.parse_numbers): a cell that is no number is counted against data_type_check and left out
of the statistics, as an empty cell is. The columns are kept as numpy arrays (8 bytes a cell),
because Model Monitor's buckets span the current data's own least and greatest values, known
only once every record is read; they are then fed to baseline.DataProfile, the profile `train`
writes, in fixed chunks of rows, so the statistics depend on the rows alone, not on how the
requests grouped them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tabular_container.baseline import DataProfile
from tabular_container.data import Numbers, parse_numbers
from tabular_container.schema import CATEGORICAL, NUMERIC, Column, Schema

PROFILE_ROWS = 65_536
NUMERIC_TYPES = ("Integral", "Fractional")


@dataclass
class TypeCounts:
    """A feature's non-empty cells, and how many of them are numbers and whole numbers."""

    rows: int = 0
    non_null: int = 0
    numbers: int = 0
    whole: int = 0
    strings: list[str] = field(default_factory=list)  # first few cells that are no numbers

    def share_of(self, inferred_type: str) -> float:
        """The share of non-empty cells of that Model Monitor type (a number is Fractional too)."""
        if not self.non_null:
            return 1.0
        matching = {"Integral": self.whole, "Fractional": self.numbers}.get(inferred_type)
        return self.non_null / self.non_null if matching is None else matching / self.non_null

    @property
    def completeness(self) -> float:
        return self.non_null / self.rows if self.rows else 0.0


def _numbers(cells: np.ndarray) -> Numbers:
    """data.parse_numbers' reading of a column of text, at C speed when it is plain.

    pandas reads every finite number in a cell without a "+" as parse_numbers does (its
    docstring, and tests/test_numerals.py); only a column with another cell goes through it.
    """
    values = pd.to_numeric(cells, errors="coerce").astype(float, copy=False)
    if np.isfinite(values).all() and "+" not in "".join(cells):
        no = np.zeros(len(values), dtype=bool)
        return Numbers(values, no, no)
    return parse_numbers(pd.Series(cells, dtype=object))


class CurrentData:
    """Columns of the features in `names`; kinds from the baseline, else from the first chunk."""

    def __init__(self, names: list[str], inferred_types: dict[str, str] | None = None) -> None:
        self.names = names
        self.numeric: list[bool] | None = None
        if inferred_types is not None:
            self.numeric = [inferred_types.get(name) in NUMERIC_TYPES for name in names]
        self.counts = {name: TypeCounts() for name in names}
        self.rows = 0
        self._columns: list[list[np.ndarray]] = [[] for _ in names]

    def add(self, cells: np.ndarray) -> None:
        """Merge a chunk of cells (rows x features, text)."""
        if not len(cells):
            return
        self.rows += len(cells)
        read = [_numbers(cells[:, i]) for i in range(len(self.names))]
        if self.numeric is None:  # data.Tally's rule: numeric when most non-empty cells are numbers
            self.numeric = [
                int((~np.isnan(r.values) & ~r.bad).sum()) > int(r.bad.sum()) for r in read
            ]
        for i, (name, numbers) in enumerate(zip(self.names, read, strict=True)):
            counts = self.counts[name]
            empty = np.isnan(numbers.values) & ~numbers.bad
            good = ~np.isnan(numbers.values)
            counts.rows += len(cells)
            counts.non_null += int((~empty).sum())
            counts.numbers += int(good.sum())
            counts.whole += int((good & (numbers.values == np.floor(numbers.values))).sum())
            if self.numeric[i]:
                if numbers.bad.any() and len(counts.strings) < 3:
                    counts.strings.extend(cells[numbers.bad, i][: 3 - len(counts.strings)])
                self._columns[i].append(numbers.values)
            else:
                self._columns[i].append(cells[:, i])

    def schema(self) -> Schema:
        numeric = self.numeric or [False] * len(self.names)
        columns = tuple(
            Column(name, NUMERIC if is_number else CATEGORICAL)
            for name, is_number in zip(self.names, numeric, strict=True)
        )
        return Schema(columns, target="")

    def profile(self) -> DataProfile:
        """The DataProfile of every row, fed PROFILE_ROWS at a time."""
        schema = self.schema()
        columns = [np.concatenate(parts) if parts else np.zeros(0) for parts in self._columns]
        ranges = []
        for column, is_number in zip(columns, schema.numeric, strict=True):
            if is_number:
                present = column[~np.isnan(column)]
                ranges.append(
                    (float(present.min()), float(present.max())) if len(present) else (0.0, 0.0)
                )
        profile = DataProfile(schema, tuple(ranges))
        for start in range(0, self.rows, PROFILE_ROWS):
            chunk = np.empty((min(PROFILE_ROWS, self.rows - start), len(columns)), dtype=object)
            for i, column in enumerate(columns):
                chunk[:, i] = column[start : start + len(chunk)]
            profile.add(chunk)
        return profile
