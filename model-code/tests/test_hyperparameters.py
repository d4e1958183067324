"""Hyperparameters arrive as strings; every bad one is refused with its name in the message."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tabular_container.hyperparameters import (
    CLASSIFICATION,
    ESTIMATORS,
    HIST_GRADIENT_BOOSTING,
    HyperparameterError,
    Hyperparameters,
    parse_hyperparameters,
)


def test_no_hyperparameters_gives_the_documented_defaults():
    chosen = parse_hyperparameters({})

    assert chosen == Hyperparameters()
    assert (chosen.target, chosen.problem_type, chosen.estimator) == (
        "rings",
        "regression",
        "nystroem_ridge",
    )


def test_strings_are_parsed_into_typed_values():
    chosen = parse_hyperparameters(
        {
            "target": "label",
            "problem_type": "classification",
            "estimator": "hist_gradient_boosting",
            "learning_rate": "0.05",
            "max_iter": "200",
            "max_leaf_nodes": "15",
            "random_state": "7",
        }
    )

    assert chosen.problem_type == CLASSIFICATION
    assert chosen.estimator == HIST_GRADIENT_BOOSTING
    assert (chosen.learning_rate, chosen.max_iter, chosen.max_leaf_nodes) == (0.05, 200, 15)
    assert chosen.random_state == 7


def test_gamma_auto_means_none_and_a_number_is_kept():
    assert parse_hyperparameters({"gamma": "auto"}).gamma is None
    assert parse_hyperparameters({"gamma": "0.25"}).gamma == 0.25


def test_an_unknown_key_is_named_with_the_known_ones():
    with pytest.raises(HyperparameterError, match=r"unknown hyperparameter 'alpah'.*alpha"):
        parse_hyperparameters({"alpah": "1"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("problem_type", "ranking"),
        ("estimator", "xgboost"),
        ("alpha", "0"),
        ("alpha", "-1"),
        ("alpha", "abc"),
        ("alpha", "nan"),
        ("alpha", "inf"),
        ("category_weight", "-0.5"),
        ("gamma", "0"),
        ("gamma", "scale"),
        ("n_components", "0"),
        ("n_components", "2.5"),
        ("random_state", "-1"),
        ("target", " "),
    ],
)
def test_a_bad_value_is_named_with_its_key_and_value(name, value):
    with pytest.raises(HyperparameterError, match=rf"hyperparameter {name}='{value}' is invalid"):
        parse_hyperparameters({name: value})


def test_values_must_be_strings_as_sagemaker_sends_them():
    with pytest.raises(HyperparameterError, match=r"alpha=0\.5 must be a string"):
        parse_hyperparameters({"alpha": 0.5})


def test_a_setting_of_another_estimator_is_refused():
    with pytest.raises(HyperparameterError, match="'learning_rate' does not apply to estimator"):
        parse_hyperparameters({"learning_rate": "0.1"})


def test_the_file_must_hold_an_object():
    with pytest.raises(HyperparameterError, match="JSON object"):
        parse_hyperparameters(["alpha", "1"])


def test_keys_sagemaker_adds_itself_are_ignored():
    chosen = parse_hyperparameters(
        {"_tuning_objective_metric": "validation:mse", "sagemaker_program": "x"}
    )

    assert chosen == Hyperparameters()


@given(
    estimator=st.sampled_from(ESTIMATORS),
    alpha=st.floats(1e-6, 1e6),
    gamma=st.none() | st.floats(1e-6, 1e6),
    n_components=st.integers(1, 20_000),
    learning_rate=st.floats(1e-6, 1.0),
)
def test_the_metadata_strings_parse_back_to_the_same_settings(
    estimator, alpha, gamma, n_components, learning_rate
):
    chosen = Hyperparameters(
        estimator=estimator,
        alpha=alpha,
        gamma=gamma,
        n_components=n_components,
        learning_rate=learning_rate,
    )
    again = parse_hyperparameters(chosen.as_strings())

    assert {name: getattr(again, name) for name in chosen.applicable()} == {
        name: getattr(chosen, name) for name in chosen.applicable()
    }


def test_categorical_columns_are_a_comma_separated_list_of_names():
    chosen = parse_hyperparameters({"categorical_columns": "sex, zip code"})

    assert chosen.categorical_columns == ("sex", "zip code")
    assert chosen.as_strings()["categorical_columns"] == "sex,zip code"
    assert parse_hyperparameters({"categorical_columns": ""}).categorical_columns == ()


@pytest.mark.parametrize(
    ("value", "reason"),
    [("sex,,code", "expected column names separated by commas"), ("a,a", "named twice")],
)
def test_bad_categorical_columns_are_named(value, reason):
    with pytest.raises(HyperparameterError, match=f"categorical_columns={value!r} is invalid: "):
        parse_hyperparameters({"categorical_columns": value})
    with pytest.raises(HyperparameterError, match=reason):
        parse_hyperparameters({"categorical_columns": value})
