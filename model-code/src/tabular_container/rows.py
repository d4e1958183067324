"""Decoded request rows kept column-wise, turned into the model's object rows a slice at a time."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class ColumnRows:
    """Rows held as columns: float64 arrays for numbers (NaN when missing), arrays of strings.

    A 100 MB CSV body is two million rows; as the model's object array at once they would be
    twenty million Python objects, gigabytes. Held this way the numbers take their float bytes
    and the texts a pointer each (pandas' parser shares one string among equal cells), and
    `Predictor.predict`, which slices a chunk at a time, gets each slice as the same object
    array (schema order, Python floats and strings) that the per-cell decoders build.
    """

    def __init__(self, columns: Sequence[np.ndarray]) -> None:
        """Columns in schema order, all of one length."""
        self._columns = columns

    def __len__(self) -> int:
        return len(self._columns[0])

    def __getitem__(self, window: slice) -> np.ndarray:
        """The rows in window as the model's object array."""
        rows = np.empty((len(range(*window.indices(len(self)))), len(self._columns)), object)
        for j, column in enumerate(self._columns):
            rows[:, j] = column[window]
        return rows


# What decoders return and Predictor.predict takes: both slice into the model's object rows.
Rows = np.ndarray | ColumnRows
