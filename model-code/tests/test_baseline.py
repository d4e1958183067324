"""`train` writes the training data's Model Monitor baselines: exact, in Model Monitor's format."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from tabular_container.baseline import (
    BUCKETS,
    MONITORING_CONFIG,
    SKETCH_C,
    SKETCH_K,
    DataProfile,
    KllSketch,
)
from tabular_container.data import feature_array
from tabular_container.schema import CATEGORICAL, NUMERIC, Column, Schema
from tabular_container.training import main

SCHEMA = Schema(
    (Column("sex", CATEGORICAL), Column("rings_seen", NUMERIC), Column("length", NUMERIC)),
    target="rings",
)


def profile_of(frame: pd.DataFrame, chunk: int = 2) -> DataProfile:
    """A profile fed `frame` in chunks of `chunk` rows, as scoring feeds it."""
    numbers = frame[["rings_seen", "length"]].apply(pd.to_numeric, errors="coerce")
    ranges = tuple((float(numbers[c].min()), float(numbers[c].max())) for c in numbers)
    profile = DataProfile(SCHEMA, ranges)
    for start in range(0, len(frame), chunk):
        profile.add(feature_array(frame.iloc[start : start + chunk], SCHEMA, "train"))
    return profile


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sex": ["M", "F", "", "M", "I"],
            "rings_seen": ["1", "3", "5", "7", "9"],
            "length": ["0.5", "", "0.25", "1.0", "0.75"],
            "rings": ["1", "2", "3", "4", "5"],
        }
    )


def test_statistics_are_exact_whatever_the_chunks(frame: pd.DataFrame) -> None:
    # WHEN the same rows are profiled in chunks of 2, and all at once
    documents = [profile_of(frame, chunk).statistics() for chunk in (2, 5)]
    # THEN the answers agree, and hold the known values
    assert documents[0] == documents[1]
    statistics = documents[0]
    assert statistics["version"] == 0.0
    assert statistics["dataset"] == {"item_count": 5}
    assert [f["name"] for f in statistics["features"]] == ["sex", "rings_seen", "length"]
    sex, rings_seen, length = statistics["features"]
    assert sex["inferred_type"] == "String"
    assert sex["string_statistics"] == {
        "common": {"num_present": 4, "num_missing": 1},
        "distinct_count": 3.0,
        "distribution": {
            "categorical": {
                "buckets": [
                    {"value": "F", "count": 1},
                    {"value": "I", "count": 1},
                    {"value": "M", "count": 2},
                ]
            }
        },
    }
    assert rings_seen["inferred_type"] == "Integral"
    whole = rings_seen["numerical_statistics"]
    assert whole["common"] == {"num_present": 5, "num_missing": 0}
    assert (whole["min"], whole["max"], whole["sum"], whole["mean"]) == (1.0, 9.0, 25.0, 5.0)
    assert whole["std_dev"] == pytest.approx(np.std([1, 3, 5, 7, 9]))
    # Buckets of width 0.8 from 1: closed below, so 5 (a bound) falls in the sixth.
    buckets = whole["distribution"]["kll"]["buckets"]
    assert [b["count"] for b in buckets] == [1, 0, 1, 0, 0, 1, 0, 1, 0, 1]
    assert [b["lower_bound"] for b in buckets[:3]] == pytest.approx([1.0, 1.8, 2.6])
    assert length["inferred_type"] == "Fractional"
    fractional = length["numerical_statistics"]
    assert fractional["common"] == {"num_present": 4, "num_missing": 1}
    assert (fractional["sum"], fractional["mean"]) == (2.5, 0.625)
    assert fractional["std_dev"] == pytest.approx(np.std([0.5, 0.25, 1.0, 0.75]))
    buckets = fractional["distribution"]["kll"]["buckets"]
    assert len(buckets) == BUCKETS
    assert (buckets[0]["lower_bound"], buckets[-1]["upper_bound"]) == (0.25, 1.0)
    assert all(a["upper_bound"] == b["lower_bound"] for a, b in itertools.pairwise(buckets))
    assert [b["count"] for b in buckets] == [1, 0, 0, 1, 0, 0, 1, 0, 0, 1]
    # Fewer values than a level holds: the sketch keeps them all, as read.
    assert fractional["distribution"]["kll"]["sketch"] == {
        "parameters": {"c": SKETCH_C, "k": float(SKETCH_K)},
        "data": [[0.5, 0.25, 1.0, 0.75]],
    }


def test_a_constant_column_fills_the_last_bucket(frame: pd.DataFrame) -> None:
    # GIVEN a column whose values are all 7 (Deequ's bounds all collapse to 7)
    frame["rings_seen"] = "7"
    (_, rings_seen, _) = profile_of(frame).statistics()["features"]
    buckets = rings_seen["numerical_statistics"]["distribution"]["kll"]["buckets"]
    assert {(b["lower_bound"], b["upper_bound"]) for b in buckets} == {(7.0, 7.0)}
    assert [b["count"] for b in buckets] == [0] * (BUCKETS - 1) + [5]
    assert rings_seen["numerical_statistics"]["std_dev"] == 0.0


def test_constraints_suggest_types_completeness_signs_and_domains(frame: pd.DataFrame) -> None:
    constraints = profile_of(frame).constraints()
    assert constraints["version"] == 0.0
    assert constraints["features"] == [
        {
            "name": "sex",
            "inferred_type": "String",
            "completeness": 0.8,
            "string_constraints": {"domains": ["F", "I", "M"]},
        },
        {
            "name": "rings_seen",
            "inferred_type": "Integral",
            "completeness": 1.0,
            "num_constraints": {"is_non_negative": True},
        },
        {
            "name": "length",
            "inferred_type": "Fractional",
            "completeness": 0.8,
            "num_constraints": {"is_non_negative": True},
        },
    ]
    # The defaults of the developer guide's constraints page.
    assert constraints["monitoring_config"] == {
        "evaluate_constraints": "Enabled",
        "emit_metrics": "Enabled",
        "datatype_check_threshold": 0.1,
        "domain_content_threshold": 0.1,
        "distribution_constraints": {
            "perform_comparison": "Enabled",
            "comparison_threshold": 0.1,
            "comparison_method": "Robust",
            "categorical_comparison_threshold": 0.1,
            "categorical_drift_method": "LInfinity",
        },
    }


def test_a_negative_value_is_not_non_negative(frame: pd.DataFrame) -> None:
    frame.loc[0, "length"] = "-0.1"
    (_, _, length) = profile_of(frame).constraints()["features"]
    assert length["num_constraints"] == {"is_non_negative": False}


def test_a_fraction_among_whole_numbers_makes_the_column_fractional(frame: pd.DataFrame) -> None:
    frame.loc[4, "rings_seen"] = "9.5"
    (_, rings_seen, _) = profile_of(frame).constraints()["features"]
    assert rings_seen["inferred_type"] == "Fractional"


def test_the_sketch_is_deequs_bounded_and_weighs_every_value() -> None:
    # GIVEN 50,000 values in a random order, merged 1,000 at a time
    count = 50_000
    values = np.random.default_rng(0).permutation(count).astype(float)
    sketch = KllSketch()
    for start in range(0, count, 1000):
        sketch.add(values[start : start + 1000])
    # THEN it holds a few thousand of them on several levels, fewer than their capacities add up to
    assert len(sketch.levels) > 3
    held = sum(map(len, sketch.levels))
    assert held < sum(KllSketch.capacity(h) for h in range(len(sketch.levels))) < 3 * SKETCH_K
    # an item at level h stands for 2**h values: the weights add up to the count
    assert sketch.weight == count
    # and its ranks are those of the values to within 1%
    items = np.concatenate(sketch.levels)
    weights = np.concatenate([np.full(len(level), 2**h) for h, level in enumerate(sketch.levels)])
    for value in (count * 0.1, count * 0.5, count * 0.9):
        rank = weights[items <= value].sum()
        assert abs(rank - (value + 1)) < 0.01 * count
    assert sketch.to_json()["data"] == [level.tolist() for level in sketch.levels]


def test_the_profile_refuses_a_range_per_column_it_lacks() -> None:
    with pytest.raises(ValueError, match="finite"):
        DataProfile(SCHEMA, ((0.0, 1.0), (np.inf, -np.inf)))
    with pytest.raises(ValueError, match="per numeric column"):
        DataProfile(SCHEMA, ((0.0, 1.0),))


def assert_monitor_schema(statistics: dict, constraints: dict) -> None:
    """The documented schema of both documents, key by key and type by type."""
    assert set(statistics) == {"version", "dataset", "features"}
    assert isinstance(statistics["dataset"]["item_count"], int)
    for feature in statistics["features"]:
        if feature["inferred_type"] == "String":
            assert set(feature) == {"name", "inferred_type", "string_statistics"}
            strings = feature["string_statistics"]
            assert set(strings) == {"common", "distinct_count", "distribution"}
            assert all(
                set(b) == {"value", "count"}
                for b in strings["distribution"]["categorical"]["buckets"]
            )
        else:
            assert feature["inferred_type"] in ("Integral", "Fractional")
            assert set(feature) == {"name", "inferred_type", "numerical_statistics"}
            numbers = feature["numerical_statistics"]
            assert set(numbers) == {
                "common",
                "mean",
                "sum",
                "std_dev",
                "min",
                "max",
                "distribution",
            }
            assert set(numbers["common"]) == {"num_present", "num_missing"}
            kll = numbers["distribution"]["kll"]
            assert len(kll["buckets"]) == BUCKETS
            assert all(set(b) == {"lower_bound", "upper_bound", "count"} for b in kll["buckets"])
            assert sum(b["count"] for b in kll["buckets"]) == numbers["common"]["num_present"]
            assert set(kll["sketch"]) == {"parameters", "data"}
            assert set(kll["sketch"]["parameters"]) == {"c", "k"}
            assert all(isinstance(level, list) for level in kll["sketch"]["data"])
    assert set(constraints) == {"version", "features", "monitoring_config"}
    assert constraints["monitoring_config"] == MONITORING_CONFIG
    for feature in constraints["features"]:
        check = "string_constraints" if feature["inferred_type"] == "String" else "num_constraints"
        assert set(feature) == {"name", "inferred_type", "completeness", check}
        assert 0.0 <= feature["completeness"] <= 1.0


def test_train_writes_both_documents_in_the_model_directory(job) -> None:
    # GIVEN a training job's channels (conftest's fixture) WHEN train runs
    assert main() == 0
    # THEN baselines/ holds both documents: strict JSON, in Model Monitor's schema
    folder = job.model_dir / "baselines"
    assert sorted(path.name for path in folder.iterdir()) == ["constraints.json", "statistics.json"]
    statistics = json.loads((folder / "statistics.json").read_text(), parse_constant=pytest.fail)
    constraints = json.loads((folder / "constraints.json").read_text(), parse_constant=pytest.fail)
    assert_monitor_schema(statistics, constraints)
    # describing the train channel's features, in the order a request sends them
    metadata = json.loads(job.metadata_file.read_text())
    names = [feature["name"] for feature in metadata["features"]]
    assert [f["name"] for f in statistics["features"]] == names
    assert [f["name"] for f in constraints["features"]] == names
    assert statistics["dataset"]["item_count"] == metadata["rows"]["train"]
    train = pd.read_csv(job.channel_dir("train") / "train.csv")
    by_name = {f["name"]: f for f in statistics["features"]}
    length = by_name["length"]["numerical_statistics"]
    assert length["mean"] == pytest.approx(train["length"].mean())
    assert (length["min"], length["max"]) == (train["length"].min(), train["length"].max())
    (sex,) = [f for f in constraints["features"] if f["name"] == "sex"]
    assert sex["string_constraints"]["domains"] == sorted(train["sex"].unique())
