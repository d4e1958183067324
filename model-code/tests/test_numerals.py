"""Training and serving read a number the same way: what one accepts, the other accepts with the
same value, and what one refuses, the other refuses."""

from __future__ import annotations

import csv
import io
import json
import math
import re

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tabular_container.codecs import RequestError, decode_csv, decode_json
from tabular_container.data import DataError, feature_array, parse_numbers, read_channel
from tabular_container.numerals import text_number

REFUSED = "refused"
# Cell text → what it means: a number, NaN (missing), or REFUSED.
CASES = {
    "0.455": 0.455,
    "-.5": -0.5,
    "+1.5E-3": 0.0015,
    "+7e36": 7e36,  # pandas alone reads a leading "+" one unit in the last place off
    "+3E127": 3e127,
    "3e2": 300.0,
    "7.": 7.0,
    "00012": 12.0,
    " 2 ": 2.0,
    "\u00a03e2\u2003": 300.0,  # any whitespace around is only whitespace
    "1e-400": 0.0,
    "": math.nan,
    "   ": math.nan,
    "inf": REFUSED,
    "-inf": REFUSED,
    "Infinity": REFUSED,
    "nan": REFUSED,
    "NaN": REFUSED,
    "0x10": REFUSED,
    "1_000": REFUSED,
    "\uff11\uff12": REFUSED,  # full-width 12
    "\u0661\u0662": REFUSED,  # Arabic-Indic 12
    "1,5": REFUSED,
    "1e999": REFUSED,
    "1e": REFUSED,
    ".": REFUSED,
    "abc": REFUSED,
    "\u00a0": math.nan,
}
PLAIN = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def csv_row(cell: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(["M", cell, "1"])
    return out.getvalue()


def trained(cell: str, schema, tmp_path) -> object:
    """The cell as training reads it from a channel file into feature rows."""
    (tmp_path / "train.csv").write_text("sex,length,weight\n" + csv_row(cell), encoding="utf-8")
    frame = read_channel(tmp_path, "train")
    try:
        return feature_array(frame, schema, "train")[0, 1]
    except DataError:
        return REFUSED


def served(cell: object, schema) -> list[object]:
    """The cell as serving reads it from a CSV body and from a JSON instance."""
    read = []
    bodies = [(decode_json, json.dumps({"instances": [{"sex": "M", "length": cell, "weight": 1}]}))]
    if isinstance(cell, str):
        bodies.append((decode_csv, csv_row(cell)))
    for decode, body in bodies:
        try:
            read.append(decode(body.encode(), schema)[0, 1])
        except RequestError:
            read.append(REFUSED)
    return read


def same(value: object, expected: object) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(value, float) and math.isnan(value)
    return value == expected


@pytest.mark.parametrize(("cell", "meaning"), CASES.items())
def test_training_and_serving_read_each_cell_alike(cell, meaning, schema, tmp_path):
    # GIVEN a cell WHEN training reads it from a file and serving from CSV and JSON
    # THEN all three agree on what it means
    readings = [trained(cell, schema, tmp_path), *served(cell, schema)]
    assert all(same(reading, meaning) for reading in readings), readings


@pytest.mark.parametrize(
    ("value", "meaning"),
    [(0.455, 0.455), (12, 12.0), (None, math.nan), (10**400, REFUSED), (True, REFUSED)],
)
def test_json_numbers_mean_what_their_plain_text_means(value, meaning, schema):
    assert same(served(value, schema)[0], meaning)


def test_json_nan_and_infinity_literals_are_refused(schema):
    for literal in ("NaN", "Infinity", "-Infinity"):
        body = f'{{"instances": [{{"sex": "M", "length": {literal}, "weight": 1}}]}}'.encode()
        with pytest.raises(RequestError, match="is not a finite number"):
            decode_json(body, schema)


CELLS = st.text(alphabet="0123456789+-.eE_x ,\t\u00a0\uff11infaNI", max_size=8)


@given(CELLS)
def test_text_number_reads_plain_ascii_decimals_only(cell):
    number = text_number(cell)
    if not cell.strip():
        assert math.isnan(number)
    elif PLAIN.fullmatch(cell.strip()) and math.isfinite(float(cell.strip())):
        assert number == float(cell.strip())
    else:
        assert number is None


@given(st.lists(CELLS, min_size=1, max_size=5))
def test_the_column_reading_is_the_cell_reading(cells):
    # GIVEN any cells WHEN training reads them as a column (pandas' fast path first)
    numbers, bad, _ = parse_numbers(pd.Series(cells, dtype=str))
    # THEN each means what text_number says, which serving uses for every cell
    for cell, number, refused in zip(cells, numbers, bad, strict=True):
        expected = text_number(cell)
        assert refused == (expected is None)
        if expected is not None:  # the same number: NaN for an empty cell, and -0 is 0
            assert number == expected or (math.isnan(number) and math.isnan(expected))
