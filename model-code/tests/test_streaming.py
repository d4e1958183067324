"""Statistics merged chunk by chunk equal those computed over all rows at once."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from tabular_container.streaming import CentredScatter, Moments


def in_chunks(rows: int, size: int) -> list[slice]:
    return [slice(start, start + size) for start in range(0, rows, size)]


@pytest.mark.parametrize("size", [1, 7, 100, 1000])
def test_moments_over_chunks_equal_the_mean_and_spread_of_all_rows(size):
    values = np.random.default_rng(0).normal(1e3, 5.0, size=(600, 3))
    values[::4, 1] = np.nan  # missing values are left out
    values[:, 2] = np.nan  # a column with none observed

    moments = Moments(3)
    for part in in_chunks(len(values), size):
        moments.add(values[part])

    np.testing.assert_array_equal(moments.count, [600, 450, 0])
    np.testing.assert_allclose(moments.mean[:2], np.nanmean(values[:, :2], axis=0), rtol=1e-13)
    np.testing.assert_allclose(moments.spread[:2], np.nanstd(values[:, :2], axis=0), rtol=1e-10)
    assert moments.spread[2] == 0.0


def test_moments_side_by_side_keep_each_column():
    left, right = Moments(1), Moments(2)
    left.add(np.array([[1.0], [3.0]]))
    right.add(np.array([[5.0, 1.0], [7.0, 1.0]]))

    joined = Moments.side_by_side([left, right])

    np.testing.assert_array_equal(joined.mean, [2.0, 6.0, 1.0])
    np.testing.assert_array_equal(joined.spread, [1.0, 1.0, 0.0])


@pytest.mark.parametrize("size", [1, 13, 250, 500])
def test_ridge_from_chunks_equals_scikit_learn_ridge_on_all_rows(size):
    random = np.random.default_rng(1)
    features = random.normal(50.0, 2.0, size=(500, 20))  # far from zero: centring matters
    targets = features @ random.normal(size=(20, 3)) + random.normal(size=(500, 3))

    scatter = CentredScatter()
    for part in in_chunks(len(features), size):
        scatter.merge(CentredScatter.of(features[part], targets[part]))
    coef, intercept = scatter.ridge(alpha=0.3)

    reference = Ridge(alpha=0.3).fit(features, targets)
    np.testing.assert_allclose(coef.T, reference.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(intercept, reference.intercept_, rtol=1e-8)
    assert scatter.rows == 500
