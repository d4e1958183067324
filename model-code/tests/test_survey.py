"""The survey pass learns over chunks what infer_schema and TabularEncoder.fit learn at once,
and a typo among numbers is an error, not a new schema."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabular_container import survey as survey_module
from tabular_container.data import Channel, DataError, feature_array, infer_schema
from tabular_container.survey import survey
from tabular_container.transformers import TabularEncoder

ROWS = 40


def channel_of(tmp_path, frame: pd.DataFrame) -> Channel:
    frame.to_csv(tmp_path / "train.csv", index=False)
    return Channel.open(tmp_path, "train")


@pytest.fixture
def mixed(tmp_path) -> Channel:
    """A numeric column, a categorical one with numbers among its codes, one padded with odd
    spaces."""
    random = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "length": random.uniform(0, 1, ROWS).round(3).astype(str),
            "code": [str(i % 7) if i % 3 == 0 else f"X{i % 7}" for i in range(ROWS)],
            "padded": [f"\u00a0{i}" for i in range(ROWS)],
            "rings": random.integers(1, 20, ROWS).astype(str),
        }
    )
    frame.loc[3, "length"] = ""
    return channel_of(tmp_path, frame)


@pytest.mark.parametrize("rows", [1, 6, 100])
def test_the_survey_learns_what_all_rows_at_once_would_teach(mixed, rows):
    found = survey(mixed, "rings", "regression", 5, 0, rows)

    frame = pd.concat(list(mixed.chunks(1000)))
    schema = infer_schema(frame, "rings", "train")
    encoder = TabularEncoder(categorical=schema.categorical_positions)
    encoder.fit(feature_array(frame, schema, "train"))
    assert found.schema == schema
    assert found.rows == ROWS
    assert [c.tolist() for c in found.categories] == [c.tolist() for c in encoder.categories_]
    np.testing.assert_allclose(found.moments.mean, encoder.mean_, rtol=1e-14)
    np.testing.assert_allclose(found.moments.spread, encoder.scale_, rtol=1e-12)
    assert found.plain_numbers == ("length", "rings")  # "padded" needs stripping first


def test_the_sample_keeps_only_its_own_rows(mixed):
    found = survey(mixed, "rings", "regression", 5, 0, 4)

    assert len(found.sample) == 5
    assert found.sample.index.levels[1].size == 5  # not every row of every chunk it came from
    assert [row for _, row in found.sample.index] == found.sample_rows.tolist()


def test_a_categorical_column_with_too_many_values_is_refused(mixed, monkeypatch):
    monkeypatch.setattr(survey_module, "MAX_CATEGORIES", 6)

    with pytest.raises(DataError, match="column code of channel train is categorical"):
        survey(mixed, "rings", "regression", 5, 0, 10)


def test_a_numeric_column_may_have_any_number_of_values(mixed, monkeypatch):
    monkeypatch.setattr(survey_module, "MAX_CATEGORIES", 2)
    frame = pd.concat(list(mixed.chunks(1000)))[["length", "rings"]]
    channel = channel_of(mixed.files[0][1].parent, frame)

    assert survey(channel, "rings", "regression", 5, 0, 10).schema.names == ("length",)


def numbers_but(tmp_path, cell: str, at: int, rows: int = 300) -> Channel:
    """A numeric column of `rows` cells, one of them `cell`, and a target."""
    random = np.random.default_rng(1)
    length = random.uniform(0, 1, rows).round(3).astype(str)
    length[at] = cell
    return channel_of(tmp_path, pd.DataFrame({"length": length, "rings": np.arange(rows)}))


@pytest.mark.parametrize("cell", ["1_000", "abc", "inf", "0x10", "\uff11\uff12", "nan"])
@pytest.mark.parametrize("at", [0, 250])
def test_one_bad_cell_among_numbers_is_an_error_naming_file_line_and_value(tmp_path, cell, at):
    # GIVEN 299 numbers and one typo, early or in a later chunk
    channel = numbers_but(tmp_path, cell, at)
    # WHEN surveyed THEN training stops, naming where the typo is and what it says
    with pytest.raises(DataError) as caught:
        survey(channel, "rings", "regression", 5, 0, 64)
    assert str(caught.value).startswith(
        f"channel train: train.csv line {at + 2}, column length: {cell!r} is not a number, "
        "yet 299 of the column's 300 non-empty cells are (1 not)"
    )
    assert "categorical_columns" in str(caught.value)


def test_a_column_declared_categorical_stays_so_whatever_its_cells(tmp_path):
    # GIVEN the same typo, and the column listed in categorical_columns
    channel = numbers_but(tmp_path, "abc", 3)
    # WHEN surveyed THEN it is categorical, one category per distinct text
    found = survey(channel, "rings", "regression", 5, 0, 64, categorical=("length",))
    assert found.schema.categorical_positions == (0,)
    assert "abc" in found.categories[0].tolist()
    assert found.plain_numbers == ("rings",)


@pytest.mark.parametrize("declared", [("weight",), ("rings",)])
def test_categorical_columns_must_name_feature_columns(mixed, declared):
    with pytest.raises(DataError, match=f"categorical_columns names {declared[0]}, not feature"):
        survey(mixed, "rings", "regression", 5, 0, 10, categorical=declared)


def test_a_column_of_mostly_text_is_categorical_with_its_numbers_as_categories(mixed):
    found = survey(mixed, "rings", "regression", 5, 0, 7)

    assert [c.kind for c in found.schema.columns] == ["numeric", "categorical", "numeric"]
    assert {"0", "3", "X1"} <= set(found.categories[0].tolist())
