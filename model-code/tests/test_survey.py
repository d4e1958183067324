"""The survey pass learns over chunks what infer_schema and TabularEncoder.fit learn at once."""

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
    """A numeric column, one numbers-looking until its last row, one padded with odd spaces."""
    random = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "length": random.uniform(0, 1, ROWS).round(3).astype(str),
            "code": [str(i % 7) for i in range(ROWS - 1)] + ["X9"],
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
