"""Statistics merged chunk by chunk, so fitting holds one chunk of rows, never all of them.

Each chunk's own mean and centred sums are merged with the running ones (Chan, Golub and
LeVeque's pairwise update), which stays as accurate as a two-pass computation over all rows:
no large sums of squares are subtracted from each other.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import linalg


class Moments:
    """Count, mean and sum of squared deviations of each column, missing values (NaN) left out."""

    def __init__(self, width: int) -> None:
        self.count = np.zeros(width)
        self.mean = np.zeros(width)
        self.m2 = np.zeros(width)

    def add(self, values: np.ndarray) -> None:
        """Merge a chunk of rows (one column per statistic, NaN where missing)."""
        observed = ~np.isnan(values)
        count = observed.sum(axis=0)
        mean = np.where(observed, values, 0.0).sum(axis=0) / np.maximum(count, 1)
        m2 = np.where(observed, (values - mean) ** 2, 0.0).sum(axis=0)
        total = self.count + count
        delta = mean - self.mean
        share = count / np.maximum(total, 1)
        self.m2 = np.where(self.count == 0, m2, self.m2 + m2 + delta**2 * self.count * share)
        # A column's first values set its mean as they are (m * n / n may round differently).
        self.mean = np.where(self.count == 0, mean, self.mean + delta * share)
        self.count = total

    @classmethod
    def side_by_side(cls, parts: Sequence[Moments]) -> Moments:
        """The columns of several, in order, as one."""
        joined = cls(0)
        for name in ("count", "mean", "m2"):
            columns = [getattr(joined, name), *(getattr(part, name) for part in parts)]
            setattr(joined, name, np.concatenate(columns))
        return joined

    @property
    def spread(self) -> np.ndarray:
        """Standard deviation of each column (population form, as StandardScaler's)."""
        return np.sqrt(self.m2 / np.maximum(self.count, 1))


class CentredScatter:
    """Means and centred cross-products of features X and targets Y: all that ridge needs."""

    def __init__(self) -> None:
        self.rows = 0
        self.x_mean = np.zeros(0)
        self.y_mean = np.zeros(0)
        self.xx = np.zeros((0, 0))
        self.xy = np.zeros((0, 0))

    @classmethod
    def of(cls, features: np.ndarray, targets: np.ndarray) -> CentredScatter:
        """The statistics of one chunk: features (rows x p) and targets (rows x t), float64."""
        scatter = cls()
        if len(features):
            scatter.rows = len(features)
            scatter.x_mean, scatter.y_mean = features.mean(axis=0), targets.mean(axis=0)
            x = features - scatter.x_mean
            scatter.xx = x.T @ x  # numpy hands X.T @ X to BLAS syrk: half a general product
            scatter.xy = x.T @ (targets - scatter.y_mean)
        return scatter

    def merge(self, other: CentredScatter) -> None:
        """Add another chunk's statistics to these."""
        if other.rows == 0:
            return
        if self.rows == 0:
            self.rows, self.x_mean, self.y_mean = other.rows, other.x_mean, other.y_mean
            self.xx, self.xy = other.xx, other.xy
            return
        total = self.rows + other.rows
        dx, dy = other.x_mean - self.x_mean, other.y_mean - self.y_mean
        weight = self.rows * other.rows / total
        self.xx += other.xx
        self.xx += weight * np.outer(dx, dx)
        self.xy += other.xy + weight * np.outer(dx, dy)
        self.x_mean = self.x_mean + dx * (other.rows / total)
        self.y_mean = self.y_mean + dy * (other.rows / total)
        self.rows = total

    def ridge(self, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """Coefficients (p x t) and intercepts (t) of ridge with an intercept, as Ridge solves it.

        scikit-learn's Ridge (solver "cholesky", the one it picks for dense data) centres X and
        y, solves (Xc.T Xc + alpha I) w = Xc.T yc and sets the intercept to mean(y) - mean(X) w:
        the same system, from the same sums.
        """
        system = self.xx.copy()
        system.flat[:: len(system) + 1] += alpha
        coef = linalg.solve(system, self.xy, assume_a="pos", overwrite_a=True)
        return coef, self.y_mean - self.x_mean @ coef
