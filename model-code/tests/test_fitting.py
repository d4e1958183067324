"""Fitting chunk by chunk gives the model scikit-learn fits on all rows at once."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge, RidgeClassifier

from tabular_container.data import FrameChannel, feature_array, infer_schema, target_array
from tabular_container.fitting import fit, score_channel
from tabular_container.hyperparameters import Hyperparameters
from tabular_container.metrics import score
from tabular_container.transformers import RBFFeatures, TabularEncoder

CHUNK_ROWS = [7, 97, 1000]


def text_channel(frame: pd.DataFrame, name: str = "train") -> FrameChannel:
    """A frame as `train` reads a channel: text cells indexed by (file, row)."""
    text = frame.astype(str).reset_index(drop=True)
    return FrameChannel(name, pd.concat({f"{name}.csv": text}, names=["file", "row"]))


def in_memory(channel: FrameChannel, hp: Hyperparameters, basis_rows: np.ndarray | None):
    """Every row at once: TabularEncoder.fit, the same kernel basis, scikit-learn's estimator."""
    schema = infer_schema(channel.frame, hp.target, channel.name)
    rows = feature_array(channel.frame, schema, channel.name)
    target = target_array(channel.frame, hp.target, hp.problem_type, channel.name)
    encoder = TabularEncoder(schema.names, schema.categorical_positions, hp.category_weight)
    features = encoder.fit(rows).transform(rows)
    steps = [encoder]
    if basis_rows is not None:
        rbf = RBFFeatures(hp.gamma, len(basis_rows)).fit_basis(features[basis_rows], basis_rows)
        features = rbf.transform(features)
        steps.append(rbf)
    estimator = (RidgeClassifier if hp.problem_type == "classification" else Ridge)(hp.alpha)
    if hp.estimator == "hist_gradient_boosting":
        estimator = HistGradientBoostingRegressor(max_iter=hp.max_iter, random_state=0)
    estimator.fit(features, target)

    def predict(raw: np.ndarray) -> np.ndarray:
        for step in steps:
            raw = step.transform(raw)
        return estimator.predict(raw)

    return predict, estimator


@pytest.fixture(scope="module")
def abalone_like(make_frame) -> tuple[FrameChannel, np.ndarray]:
    """Train rows, and other rows to predict (raw, in schema order)."""
    held_out = make_frame(rows=200, seed=9)[["sex", "length", "weight"]]
    return text_channel(make_frame(rows=1000, seed=2)), held_out.to_numpy(dtype=object)


@pytest.mark.parametrize("rows", CHUNK_ROWS)
def test_the_kernel_ridge_from_chunks_equals_scikit_learn_on_all_rows(abalone_like, rows):
    channel, held_out = abalone_like
    hp = Hyperparameters(n_components=80)

    fitted = fit(channel, hp, rows=rows)

    predict, _ = in_memory(channel, hp, fitted.survey.sample_rows)
    final = fitted.model.steps[-1][1]
    assert type(final) is Ridge  # what the server's fast path predicts with
    np.testing.assert_allclose(fitted.model.predict(held_out), predict(held_out), rtol=1e-9)


def test_the_basis_sample_does_not_depend_on_the_chunk_size(abalone_like):
    channel, held_out = abalone_like
    hp = Hyperparameters(n_components=80)

    fits = [fit(channel, hp, rows=rows) for rows in CHUNK_ROWS]

    for other in fits[1:]:
        np.testing.assert_array_equal(other.survey.sample_rows, fits[0].survey.sample_rows)
        np.testing.assert_allclose(
            other.model.predict(held_out), fits[0].model.predict(held_out), rtol=1e-9
        )
    assert len(set(fits[0].survey.sample_rows)) == 80


def test_another_seed_samples_another_basis(abalone_like):
    channel, _ = abalone_like

    first = fit(channel, Hyperparameters(n_components=50, random_state=0), rows=500)
    second = fit(channel, Hyperparameters(n_components=50, random_state=1), rows=500)

    assert set(first.survey.sample_rows) != set(second.survey.sample_rows)


def test_fewer_rows_than_components_take_every_row_as_basis(make_frame):
    fitted = fit(text_channel(make_frame(rows=40)), Hyperparameters(), rows=7)

    assert sorted(fitted.survey.sample_rows) == list(range(40))
    assert fitted.model.named_steps["rbf"].components_.shape == (40, 5)


@pytest.mark.parametrize("rows", [3, 1000])
def test_plain_ridge_from_chunks_equals_scikit_learn(abalone_like, rows):
    channel, held_out = abalone_like
    hp = Hyperparameters(estimator="ridge", alpha=2.0)

    fitted = fit(channel, hp, rows=rows)

    predict, _ = in_memory(channel, hp, None)
    assert list(fitted.model.named_steps) == ["encode", "model"]
    np.testing.assert_allclose(fitted.model.predict(held_out), predict(held_out), rtol=1e-9)


@pytest.mark.parametrize(
    "labels",
    [
        lambda rings: np.where(rings > 10, "old", "young"),  # two classes, as text
        lambda rings: np.clip(rings // 4, 0, 4),  # several classes, whole numbers
    ],
)
def test_ridge_classification_from_chunks_equals_ridge_classifier(make_frame, labels):
    frame = make_frame(rows=800, seed=4)
    frame["rings"] = labels(frame["rings"].to_numpy())
    held_out = make_frame(rows=300, seed=5)[["sex", "length", "weight"]].to_numpy(dtype=object)
    channel = text_channel(frame)
    hp = Hyperparameters(problem_type="classification", n_components=60)

    fitted = fit(channel, hp, rows=211)

    predict, classifier = in_memory(channel, hp, fitted.survey.sample_rows)
    final = fitted.model.steps[-1][1]
    np.testing.assert_array_equal(final.classes_, classifier.classes_)
    np.testing.assert_array_equal(fitted.survey.classes, classifier.classes_)
    np.testing.assert_allclose(final.intercept_, classifier.intercept_, rtol=1e-8)
    np.testing.assert_array_equal(fitted.model.predict(held_out), predict(held_out))


def test_boosting_gets_the_rows_encoded_as_an_in_memory_fit_would(abalone_like):
    channel, held_out = abalone_like
    hp = Hyperparameters(estimator="hist_gradient_boosting", max_iter=5)

    fitted = fit(channel, hp, rows=333)

    predict, _ = in_memory(channel, hp, None)
    np.testing.assert_allclose(fitted.model.predict(held_out), predict(held_out), rtol=1e-9)


@pytest.mark.parametrize(
    "hp",
    [Hyperparameters(n_components=80), Hyperparameters(problem_type="classification")],
)
def test_scoring_chunk_by_chunk_equals_scoring_the_predictions_at_once(make_frame, hp):
    frame = make_frame(rows=900, seed=6)
    held = make_frame(rows=400, seed=7)
    if hp.problem_type == "classification":
        frame["rings"], held["rings"] = frame["rings"] % 3, held["rings"] % 3
    fitted = fit(text_channel(frame), hp, rows=128)

    streamed = score_channel(fitted, text_channel(held, "validation"), hp)

    rows = held[list(fitted.schema.names)].to_numpy(dtype=object)
    expected = score(hp.problem_type, held["rings"].to_numpy(), fitted.model.predict(rows))
    assert streamed.rows == 400
    assert streamed.figures() == pytest.approx(expected, rel=1e-9)


def test_a_fitted_schema_lists_the_categories_seen(abalone_like):
    channel, _ = abalone_like

    fitted = fit(channel, replace(Hyperparameters(), n_components=10))

    assert fitted.schema.columns[0].categories == ("F", "I", "M")
    assert fitted.survey.rows == 1000
