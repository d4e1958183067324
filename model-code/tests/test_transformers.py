"""The lean transformers compute what scikit-learn's general ones do, and handle odd input."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.kernel_approximation import Nystroem
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tabular_container.transformers import RBFFeatures, TabularEncoder

ROWS = np.array([["M", 0.4, 1.0], ["F", 0.5, 3.0], ["I", 0.3, 2.0], ["F", 0.6, 6.0]], dtype=object)


def test_encoder_matches_one_hot_plus_standard_scaling():
    reference = ColumnTransformer(
        [("cat", OneHotEncoder(), [0]), ("num", StandardScaler(), [1, 2])]
    ).fit(ROWS)

    encoded = TabularEncoder(categorical=(0,)).fit(ROWS).transform(ROWS)

    np.testing.assert_allclose(encoded, reference.transform(ROWS))


def test_category_weight_scales_only_the_one_hot_block():
    plain = TabularEncoder(categorical=(0,)).fit(ROWS).transform(ROWS)
    weighted = TabularEncoder(categorical=(0,), category_weight=0.5).fit(ROWS).transform(ROWS)

    np.testing.assert_allclose(weighted[:, :3], plain[:, :3] * 0.5)
    np.testing.assert_allclose(weighted[:, 3:], plain[:, 3:])


def test_unknown_categories_encode_as_zeros_and_missing_numbers_as_the_mean():
    encoder = TabularEncoder(categorical=(0,)).fit(ROWS)

    encoded = encoder.transform(np.array([["X", np.nan, 3.0]], dtype=object))

    np.testing.assert_allclose(encoded[0, :3], [0, 0, 0])
    assert encoded[0, 3] == 0.0  # the standardized training mean


def test_missing_numbers_in_training_are_left_out_of_mean_and_spread():
    rows = np.array([["M", 1.0], ["F", np.nan], ["M", 3.0]], dtype=object)

    encoder = TabularEncoder(categorical=(0,)).fit(rows)

    assert encoder.mean_.tolist() == [2.0]
    assert encoder.scale_.tolist() == [1.0]


def test_a_constant_column_does_not_divide_by_zero():
    rows = np.array([[1.0, 5.0], [2.0, 5.0]], dtype=object)

    encoded = TabularEncoder().fit(rows).transform(rows)

    assert np.isfinite(encoded).all()


def test_a_dataframe_is_read_by_column_name_whatever_its_order():
    encoder = TabularEncoder(columns=("sex", "length", "weight"), categorical=(0,)).fit(ROWS)
    frame = pd.DataFrame(ROWS, columns=["sex", "length", "weight"])
    shuffled = frame[["weight", "sex", "length"]].assign(rings=[1, 2, 3, 4])

    np.testing.assert_allclose(encoder.transform(shuffled), encoder.transform(ROWS))


def test_rbf_features_equal_nystroem_on_the_same_basis():
    points = np.random.default_rng(0).normal(size=(50, 4))
    for gamma in (None, 0.3):
        ours = RBFFeatures(gamma=gamma, n_components=20, random_state=0).fit(points)
        reference = Nystroem(gamma=gamma, n_components=20, random_state=0).fit(points)

        np.testing.assert_allclose(ours.transform(points), reference.transform(points), atol=1e-10)
