"""Channels are read as text, typed by their content, and every bad cell is located."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tabular_container.data import (
    Channel,
    DataError,
    feature_array,
    infer_schema,
    parse_numbers,
    read_channel,
    target_array,
)
from tabular_container.schema import CATEGORICAL, NUMERIC

HEADER = "sex,length,weight,rings\n"


def write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def test_every_csv_in_the_channel_is_read_in_name_order(tmp_path):
    write(tmp_path, "b.csv", HEADER + "F,0.5,0.6,10\n")
    write(tmp_path / "part", "a.csv", HEADER + "M,0.4,0.5,9\nI,0.2,,4\n")
    write(tmp_path, "notes.txt", "ignored")
    write(tmp_path, ".hidden.csv", "ignored")

    frame = read_channel(tmp_path, "train")

    assert frame["sex"].tolist() == ["F", "M", "I"]
    assert frame.index[0] == ("b.csv", 0)
    assert frame.index[2] == ("part/a.csv", 1)


def test_empty_files_are_skipped(tmp_path):
    write(tmp_path, "a.csv", "")
    write(tmp_path, "b.csv", HEADER + "F,0.5,0.6,10\n")

    assert len(read_channel(tmp_path, "train")) == 1


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "channel train is empty: no files"),
        ({"a.parquet": "x"}, "channel train has no .csv files (found: a.parquet)"),
        ({"a.csv": ""}, "channel train is empty: its CSV files have no data rows"),
        ({"a.csv": HEADER}, "channel train is empty"),
        (
            {"a.csv": HEADER + "F,1,1,1\n", "b.csv": "sex,rings\nF,1\n"},
            "b.csv has columns ['sex', 'rings'], but a.csv has",
        ),
        ({"a.csv": 'sex,rings\n"F,1\n'}, "a.csv is not valid CSV"),
        ({"a.csv": b"sex,rings\n\xff\xfe,1\n"}, "a.csv is not UTF-8 text"),
    ],
)
def test_unreadable_channels_name_the_problem(tmp_path, files, message):
    tmp_path.mkdir(exist_ok=True)
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)

    with pytest.raises(DataError) as caught:
        read_channel(tmp_path, "train")

    assert message in str(caught.value)


def test_columns_are_numeric_when_every_non_empty_value_is_a_number(tmp_path):
    write(tmp_path, "a.csv", "sex,length,code,blank,rings\nF,0.5,A1,,10\nM,,7,,9\n")

    schema = infer_schema(read_channel(tmp_path, "train"), "rings", "train")

    assert [(column.name, column.kind) for column in schema.columns] == [
        ("sex", CATEGORICAL),
        ("length", NUMERIC),
        ("code", CATEGORICAL),
        ("blank", CATEGORICAL),
    ]


def test_a_missing_target_column_is_named_with_the_columns_there(tmp_path):
    write(tmp_path, "a.csv", HEADER + "F,0.5,0.6,10\n")

    with pytest.raises(DataError, match="target column 'age' not found in channel train; columns"):
        infer_schema(read_channel(tmp_path, "train"), "age", "train")


def test_a_channel_of_only_the_target_has_no_features(tmp_path):
    write(tmp_path, "a.csv", "rings\n1\n")

    with pytest.raises(DataError, match="no feature columns"):
        infer_schema(read_channel(tmp_path, "train"), "rings", "train")


def test_features_come_out_in_schema_order_with_nan_for_empty(tmp_path):
    write(tmp_path, "a.csv", HEADER + "F,0.5,0.6,10\nM,0.4,,9\n")
    frame = read_channel(tmp_path, "train")
    schema = infer_schema(frame, "rings", "train")

    rows = feature_array(frame, schema, "train")

    assert rows[0].tolist() == ["F", 0.5, 0.6]
    assert math.isnan(rows[1, 2])


def test_a_non_number_in_a_numeric_column_names_file_line_and_column(tmp_path):
    write(tmp_path / "train", "a.csv", HEADER + "F,0.5,0.6,10\n")
    write(tmp_path / "validation", "v.csv", HEADER + "F,0.5,0.6,10\nM,0.4,heavy,9\n")
    schema = infer_schema(read_channel(tmp_path / "train", "train"), "rings", "train")

    with pytest.raises(DataError) as caught:
        feature_array(read_channel(tmp_path / "validation", "validation"), schema, "validation")

    assert str(caught.value) == (
        "channel validation: v.csv line 3, column weight: 'heavy' is not a number"
    )


def test_a_channel_lacking_a_feature_column_is_refused(tmp_path):
    write(tmp_path / "train", "a.csv", HEADER + "F,0.5,0.6,10\n")
    write(tmp_path / "validation", "v.csv", "sex,rings\nF,10\n")
    schema = infer_schema(read_channel(tmp_path / "train", "train"), "rings", "train")

    with pytest.raises(
        DataError, match=r"channel validation lacks feature column\(s\): length, weight"
    ):
        feature_array(read_channel(tmp_path / "validation", "validation"), schema, "validation")


def test_regression_targets_are_numbers(tmp_path):
    write(tmp_path, "a.csv", HEADER + "F,0.5,0.6,10\nM,0.4,0.5,9.5\n")

    target = target_array(read_channel(tmp_path, "train"), "rings", "regression", "train")

    assert target.tolist() == [10.0, 9.5]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "a.csv line 3 has no value for target rings"),
        ("old", "a.csv line 3, target rings: 'old' is not a number"),
    ],
)
def test_bad_regression_targets_are_located(tmp_path, value, message):
    write(tmp_path, "a.csv", HEADER + f"F,0.5,0.6,10\nM,0.4,0.5,{value}\n")

    with pytest.raises(DataError, match=message):
        target_array(read_channel(tmp_path, "train"), "rings", "regression", "train")


def test_class_labels_are_whole_numbers_when_they_all_are_else_text(tmp_path):
    write(tmp_path / "n", "a.csv", HEADER + "F,0.5,0.6,10\nM,0.4,0.5,9\n")
    write(tmp_path / "t", "a.csv", HEADER + "F,0.5,0.6,old\nM,0.4,0.5,9\n")

    numbers = target_array(read_channel(tmp_path / "n", "train"), "rings", "classification", "x")
    labels = target_array(read_channel(tmp_path / "t", "train"), "rings", "classification", "x")

    assert numbers.dtype == np.int64
    assert numbers.tolist() == [10, 9]
    assert labels.tolist() == ["old", "9"]


def test_chunks_keep_file_and_row_so_errors_name_the_right_line(tmp_path):
    rows = "".join(f"F,0.{i},0.5,{i}\n" for i in range(1, 8))
    write(tmp_path, "a.csv", HEADER + rows)
    write(tmp_path, "b.csv", HEADER + "M,0.4,0.5,9\nI,0.3,heavy,4\n")

    chunks = list(Channel.open(tmp_path, "validation").chunks(3))

    assert [len(chunk) for chunk in chunks] == [3, 3, 1, 2]
    assert chunks[2].index.tolist() == [("a.csv", 6)]
    assert chunks[3].index.tolist() == [("b.csv", 0), ("b.csv", 1)]
    schema = infer_schema(chunks[0], "rings", "validation")
    with pytest.raises(DataError, match=r"^channel validation: b.csv line 3, column weight: 'hea"):
        feature_array(chunks[3], schema, "validation")


def test_a_channel_knows_its_size_and_header_before_reading_rows(tmp_path):
    write(tmp_path, "a.csv", HEADER + "F,0.5,0.6,10\n")
    write(tmp_path, "b.csv", "")

    channel = Channel.open(tmp_path, "train")

    assert channel.columns == ("sex", "length", "weight", "rings")
    assert channel.size == len(HEADER + "F,0.5,0.6,10\n")
    assert [name for name, _ in channel.files] == ["a.csv"]


@pytest.mark.parametrize(
    ("cell", "number", "padded"),
    [
        ("1.5", 1.5, False),
        (" 2 ", 2.0, False),  # the parser skips ASCII spaces itself
        ("\u00a03e2\u2003", 300.0, True),  # other spaces are stripped first
        ("-.5", -0.5, False),
        ("", math.nan, False),
        ("   ", math.nan, True),
    ],
)
def test_numbers_are_what_to_numeric_reads_once_stripped(cell, number, padded):
    numbers, bad, stripped = parse_numbers(pd.Series([cell, "7"], dtype=str))

    assert not bad.any()
    np.testing.assert_array_equal(numbers, [number, 7.0])
    assert stripped.tolist() == [padded, False]


@pytest.mark.parametrize("cell", ["heavy", "nan", "inf", "-Infinity", "1e999", "1,5", "0x10"])
def test_cells_that_are_no_finite_number_are_flagged(cell):
    numbers, bad, _ = parse_numbers(pd.Series(["1", cell], dtype=str))

    assert bad.tolist() == [False, True]
    assert numbers[0] == 1.0


def test_plain_numeric_columns_read_as_floats_equal_the_text_read_as_numbers(tmp_path):
    cells = ["0.455", " 1.5", "-.25e+2", "", "+3", "00012", "0.1234567890123456", "7."]
    write(tmp_path, "a.csv", "sex,weight\n" + "".join(f"F,{cell}\n" for cell in cells))
    channel = Channel.open(tmp_path, "train")

    (typed,) = channel.chunks(100, numbers=["weight"])
    (text,) = channel.chunks(100)

    assert typed["weight"].dtype == np.float64
    assert typed["sex"].tolist() == text["sex"].tolist()
    np.testing.assert_array_equal(typed["weight"], parse_numbers(text["weight"]).values)
    np.testing.assert_array_equal(parse_numbers(typed["weight"]).values, typed["weight"])


def test_labels_follow_the_train_channels_choice_of_whole_numbers_or_text(tmp_path):
    write(tmp_path, "v.csv", HEADER + "F,0.5,0.6,10\nM,0.4,0.5,9.0\nI,0.3,0.4,old\n")
    frame = read_channel(tmp_path, "validation")

    as_text = target_array(frame, "rings", "classification", "validation", whole_labels=False)
    assert as_text.tolist() == ["10", "9.0", "old"]
    with pytest.raises(DataError, match=r"v.csv line 4, target rings: 'old' is not a whole number"):
        target_array(frame, "rings", "classification", "validation", whole_labels=True)
    whole = target_array(frame.iloc[:2], "rings", "classification", "validation", whole_labels=True)
    assert whole.tolist() == [10, 9]
