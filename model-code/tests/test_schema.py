"""The schema survives metadata.json and refuses metadata it did not write."""

from __future__ import annotations

import json

import pytest

from tabular_container.schema import CATEGORICAL, NUMERIC, Column, Schema


def test_schema_round_trips_through_json(schema):
    document = json.loads(json.dumps(schema.to_json()))

    assert Schema.from_json(document, "rings") == schema


def test_numeric_columns_carry_no_categories(schema):
    assert schema.to_json()[1] == {"name": "length", "type": "numeric"}


def test_positions_and_kinds_follow_model_order(schema):
    assert schema.names == ("sex", "length", "weight")
    assert schema.positions == {"sex": 0, "length": 1, "weight": 2}
    assert schema.numeric == (False, True, True)
    assert schema.categorical_positions == (0,)


def test_learnt_categories_fill_the_categorical_columns_in_order():
    bare = Schema((Column("a", CATEGORICAL), Column("x", NUMERIC), Column("b", CATEGORICAL)), "y")

    filled = bare.with_categories([["p", "q"], ["r"]])

    assert [column.categories for column in filled.columns] == [("p", "q"), (), ("r",)]


@pytest.mark.parametrize(
    ("features", "target"),
    [
        ([], "rings"),
        (None, "rings"),
        ([{"name": "a", "type": "numeric"}], None),
        ([{"name": "a", "type": "text"}], "rings"),
        ([{"type": "numeric"}], "rings"),
        (["a"], "rings"),
    ],
)
def test_malformed_metadata_is_refused(features, target):
    with pytest.raises(ValueError, match=r"metadata\.json"):
        Schema.from_json(features, target)
