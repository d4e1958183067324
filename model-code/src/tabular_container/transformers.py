"""Lean scikit-learn transformers, because one-row predicts dominate serving time.

`ColumnTransformer(OneHotEncoder, StandardScaler)` and `Nystroem.transform` spend most of a
one-row predict (about 1 ms) on input checks; these do the same arithmetic in a few numpy calls,
and opt out of `set_output` wrapping (pandas output is never wanted here).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.kernel_approximation import Nystroem
from sklearn.metrics.pairwise import rbf_kernel

from tabular_container.streaming import Moments


class TabularEncoder(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """One-hot the categorical columns and standardize the numeric ones of a raw object array.

    Input: rows in schema order, numbers as floats (NaN when missing), categories as strings;
    or a DataFrame, whose columns are then picked by name. Output: the one-hot blocks (their 1
    scaled to category_weight), then the numeric columns. Unknown categories encode as all zeros
    and missing numbers as the training mean.
    """

    def __init__(
        self,
        columns: Sequence[str] = (),
        categorical: Sequence[int] = (),
        category_weight: float = 1.0,
    ) -> None:
        self.columns = columns
        self.categorical = categorical
        self.category_weight = category_weight

    def _rows(self, X: object) -> np.ndarray:  # noqa: N803 - sklearn's name
        """An object array in schema order, also from a DataFrame holding extra columns."""
        if hasattr(X, "columns") and self.columns:
            X = X[list(self.columns)]  # noqa: N806
        return np.asarray(X, dtype=object)

    def fit(self, X: np.ndarray, y: object = None) -> TabularEncoder:  # noqa: N803 - sklearn's name
        """Learn the categories and each numeric column's mean and spread."""
        X = self._rows(X)  # noqa: N806
        categorical = sorted(set(self.categorical))
        numeric = [i for i in range(X.shape[1]) if i not in categorical]
        moments = Moments(len(numeric))
        moments.add(X[:, numeric].astype(float))
        return self.fit_statistics(
            X.shape[1], [np.unique(X[:, i].astype(str)) for i in categorical], moments
        )

    def fit_statistics(
        self, n_features: int, categories: Sequence[np.ndarray], moments: Moments
    ) -> TabularEncoder:
        """Take what fit learns from statistics gathered elsewhere (chunk by chunk, by `train`)."""
        self.n_features_in_ = n_features
        self.categorical_ = np.array(sorted(set(self.categorical)), dtype=np.intp)
        self.numeric_ = np.setdiff1d(np.arange(n_features), self.categorical_)
        self.categories_ = list(categories)
        self.mean_ = moments.mean
        self.scale_ = np.where(moments.spread > 0, moments.spread, 1.0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:  # noqa: N803 - sklearn's name
        """Encode rows; the result is a float matrix."""
        X = self._rows(X)  # noqa: N806
        numbers = (X[:, self.numeric_].astype(float) - self.mean_) / self.scale_
        blocks = [
            X[:, [i]].astype(str) == categories
            for i, categories in zip(self.categorical_, self.categories_, strict=True)
        ]
        encoded = np.hstack([*blocks, np.nan_to_num(numbers, nan=0.0)], dtype=float)
        encoded[:, : encoded.shape[1] - len(self.numeric_)] *= self.category_weight
        return encoded


class RBFFeatures(Nystroem, auto_wrap_output_keys=None):
    """Nystroem approximation of the RBF kernel whose transform skips the per-call checks."""

    def __init__(
        self, gamma: float | None = None, n_components: int = 100, random_state: int | None = None
    ) -> None:
        super().__init__(
            kernel="rbf", gamma=gamma, n_components=n_components, random_state=random_state
        )

    def fit_basis(self, basis: np.ndarray, indices: np.ndarray) -> RBFFeatures:
        """Fit on basis rows chosen elsewhere (by `train`, a sample of its chunks; their indices).

        The rest of Nystroem.fit: the normalization is the inverse square root of the basis
        kernel, its singular values clipped at 1e-12 as scikit-learn does.
        """
        basis = np.asarray(basis, dtype=float)
        gamma = self.gamma if self.gamma is not None else 1.0 / basis.shape[1]
        u, s, vt = np.linalg.svd(rbf_kernel(basis, gamma=gamma))
        self.normalization_ = (u / np.sqrt(np.clip(s, 1e-12, None))) @ vt
        self.components_ = basis
        self.component_indices_ = np.asarray(indices, dtype=np.int64)
        self.n_features_in_ = basis.shape[1]
        self._n_features_out = len(basis)
        return self

    def basis_kernel(self, X: np.ndarray) -> np.ndarray:  # noqa: N803 - sklearn's name
        """The RBF kernel of rows against the basis rows."""
        X = np.asarray(X, dtype=float)  # noqa: N806
        basis = self.components_
        gamma = self.gamma if self.gamma is not None else 1.0 / X.shape[1]  # rbf_kernel's default
        distances = (
            np.einsum("ij,ij->i", X, X)[:, None]
            - 2.0 * (X @ basis.T)
            + np.einsum("ij,ij->i", basis, basis)[None, :]
        )
        np.maximum(distances, 0.0, out=distances)
        return np.exp(-gamma * distances)

    def transform(self, X: np.ndarray) -> np.ndarray:  # noqa: N803 - sklearn's name
        """Kernel against the basis rows, times the fitted normalization (Nystroem's formula)."""
        return self.basis_kernel(X) @ self.normalization_.T
