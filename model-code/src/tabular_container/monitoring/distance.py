"""Distribution distances between a baseline and the current data, as Deequ defines them.

Numeric features: Deequ's Distance.numericalDistance (awslabs/deequ, analyzers/Distance.scala)
on the two KLL sketches (QuantileNonSample): each sketch's rank of an item is the weight of its
items at or below it (an item at level h weighs 2**h), its CDF that rank over the total weight;
the distance is the greatest difference of the two CDFs over the union of both sketches' items
(the two-sample Kolmogorov-Smirnov statistic, "linf_simple"). The Robust method subtracts the
Kolmogorov-Smirnov critical term, max(0, linf_simple - 1.8 * sqrt((n + m) / (n m))), with n and
m the sketches' total weights, so a small sample does not read as drift; Simple does not.

Categorical features, LInfinity: Deequ's categoricalDistance, the same greatest difference over
the categories' shares, Simple or Robust alike. ChiSquared: the p-value of Pearson's test of the
current counts against the baseline's shares (a category the baseline never saw has an expected
count of 0 and makes it 0): drift when it falls below the threshold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

SIMPLE, ROBUST = "Simple", "Robust"
LINFINITY, CHI_SQUARED = "LInfinity", "ChiSquared"
KS_FACTOR = 1.8


def _weighted(levels: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """A sketch's items sorted, and the cumulative weight at each."""
    items = np.concatenate([np.asarray(level, dtype=float) for level in levels] or [np.zeros(0)])
    weights = np.concatenate(
        [np.full(len(level), 2.0**height) for height, level in enumerate(levels)] or [np.zeros(0)]
    )
    order = np.argsort(items, kind="stable")
    return items[order], np.cumsum(weights[order])


def _robust(linf: float, n: float, m: float, method: str) -> float:
    if method == SIMPLE:
        return linf
    return max(0.0, linf - KS_FACTOR * math.sqrt((n + m) / (n * m)))


def numerical_distance(
    baseline: Sequence[Sequence[float]], current: Sequence[Sequence[float]], method: str
) -> float:
    """The distance of two KLL sketches' `data` (levels of items, level 0 first)."""
    items1, ranks1 = _weighted(baseline)
    items2, ranks2 = _weighted(current)
    if not len(items1) or not len(items2):
        return 0.0
    keys = np.union1d(items1, items2)

    def cdf(items: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        at = np.searchsorted(items, keys, side="right")  # items at or below each key
        return np.where(at > 0, ranks[np.maximum(at - 1, 0)], 0.0) / ranks[-1]

    linf = float(np.max(np.abs(cdf(items1, ranks1) - cdf(items2, ranks2))))
    return _robust(linf, float(ranks1[-1]), float(ranks2[-1]), method)


def categorical_distance(
    baseline: Mapping[str, int], current: Mapping[str, int], method: str, drift_method: str
) -> float:
    """LInfinity distance (Simple or Robust) or ChiSquared p-value of two category counts."""
    n, m = float(sum(baseline.values())), float(sum(current.values()))
    if not n or not m:
        return 0.0 if drift_method == LINFINITY else 1.0
    keys = sorted(set(baseline) | set(current))
    if drift_method == CHI_SQUARED:
        expected = np.array([baseline.get(key, 0) / n * m for key in keys])
        observed = np.array([current.get(key, 0) for key in keys], dtype=float)
        if np.any((expected == 0) & (observed > 0)):
            return 0.0
        keep = expected > 0
        if keep.sum() < 2:
            return 1.0
        from scipy import stats  # a second and a half to import: only for this method

        return float(stats.chisquare(observed[keep], expected[keep]).pvalue)
    linf = max(abs(baseline.get(key, 0) / n - current.get(key, 0) / m) for key in keys)
    return _robust(linf, n, m, method)
