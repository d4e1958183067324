"""The training data's Model Monitor baselines: `statistics.json` and `constraints.json`.

`train` writes both to `baselines/` in the model directory, in the formats of SageMaker Model
Monitor's data-quality baselining job (docs: "Schema for Statistics" and "Schema for
Constraints" of the bring-your-own-container pages), so the model registry can attach them to
the version and a monitoring job can compare captured requests with them. They describe the
feature columns only, in the order the model takes them: what a request sends.

The numbers are exact, merged chunk by chunk while `train` scores the train channel (no pass of
its own): counts, sum, mean and standard deviation (population form), least and greatest value,
and the 10 equal-width buckets Model Monitor's KLL distribution always has, between the least
and greatest value the survey pass found. The KLL `sketch` holds, as its single level, a seeded
uniform sample of at most `SKETCH_K` values of the column (every value when there are fewer):
the state a KLL sketch of that `k` is in before its first compaction, an approximation after.

The constraints are Model Monitor's suggestions: the inferred type, the completeness seen,
`is_non_negative` when no value is below 0, the categories seen as the domain, and
`monitoring_config` with the values of the documented schema's example (thresholds 0.1, the
Robust comparison for numbers, LInfinity for categories).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tabular_container.constants import BASELINE_DIR, CONSTRAINTS_FILE, STATISTICS_FILE
from tabular_container.schema import Schema

BUCKETS = 10  # Model Monitor's KLL distribution always has 10 buckets
SKETCH_K, SKETCH_C = 2048, 0.64  # the KLL parameters reported with the sketch
SKETCH_SEED = 0
MONITORING_CONFIG = {
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


@dataclass
class _Numbers:
    """One numeric column, merged chunk by chunk."""

    low: float
    high: float
    present: int = 0
    missing: int = 0
    total: float = 0.0
    squares: float = 0.0  # sum of squared deviations from the running mean (pairwise update)
    mean: float = 0.0
    whole: bool = True
    counts: np.ndarray = field(default_factory=lambda: np.zeros(BUCKETS, dtype=np.int64))
    sample: np.ndarray = field(default_factory=lambda: np.zeros(0))
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def add(self, values: np.ndarray, keys: np.ndarray) -> None:
        present = values[~np.isnan(values)]
        self.missing += len(values) - len(present)
        if len(present) == 0:
            return
        count = len(present)
        mean = float(present.mean())
        squares = float(((present - mean) ** 2).sum())
        merged = self.present + count
        delta = mean - self.mean
        self.squares += squares + delta**2 * self.present * count / merged
        self.mean += delta * count / merged
        self.present = merged
        self.total += float(present.sum())
        self.whole = self.whole and bool(np.all(present == np.floor(present)))
        self.counts += np.histogram(present, bins=BUCKETS, range=self._range())[0]
        kept = keys[~np.isnan(values)]
        order = np.argsort(np.concatenate([self.keys, kept]), kind="stable")[:SKETCH_K]
        self.sample = np.concatenate([self.sample, present])[order]
        self.keys = np.concatenate([self.keys, kept])[order]

    def _range(self) -> tuple[float, float]:
        # np.histogram needs a range of some width; one value fills the last bucket.
        return (self.low, self.high) if self.high > self.low else (self.low, self.low + 1.0)

    def statistics(self, name: str) -> dict[str, Any]:
        low, high = self._range()
        edges = np.linspace(low, high, BUCKETS + 1)
        std_dev = math.sqrt(self.squares / self.present) if self.present else 0.0
        return {
            "name": name,
            "inferred_type": self.inferred_type,
            "numerical_statistics": {
                "common": {"num_present": self.present, "num_missing": self.missing},
                "mean": self.mean,
                "sum": self.total,
                "std_dev": std_dev,
                "min": self.low if self.present else 0.0,
                "max": self.high if self.present else 0.0,
                "distribution": {
                    "kll": {
                        "buckets": [
                            {
                                "lower_bound": float(edges[i]),
                                "upper_bound": float(edges[i + 1]),
                                "count": int(self.counts[i]),
                            }
                            for i in range(BUCKETS)
                        ],
                        "sketch": {
                            "parameters": {"c": SKETCH_C, "k": float(SKETCH_K)},
                            "data": [sorted(float(v) for v in self.sample)],
                        },
                    }
                },
            },
        }

    @property
    def inferred_type(self) -> str:
        return "Integral" if self.whole and self.present else "Fractional"


@dataclass
class _Strings:
    """One categorical column, merged chunk by chunk (an empty cell is a missing value)."""

    counts: Counter[str] = field(default_factory=Counter)
    missing: int = 0

    def add(self, values: np.ndarray) -> None:
        texts = [str(v) for v in values if v is not None and str(v) != ""]
        self.missing += len(values) - len(texts)
        self.counts.update(texts)

    def statistics(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "inferred_type": "String",
            "string_statistics": {
                "common": {"num_present": sum(self.counts.values()), "num_missing": self.missing},
                "distinct_count": float(len(self.counts)),
                "distribution": {
                    "categorical": {
                        "buckets": [
                            {"value": value, "count": count}
                            for value, count in sorted(self.counts.items())
                        ]
                    }
                },
            },
        }


class DataProfile:
    """The baselines of one channel's feature columns, fed the feature arrays scoring reads."""

    def __init__(self, schema: Schema, ranges: tuple[tuple[float, float], ...]) -> None:
        self.schema = schema
        numeric_ranges = iter(ranges)
        self._columns: list[_Numbers | _Strings] = [
            _Numbers(*next(numeric_ranges)) if numeric else _Strings() for numeric in schema.numeric
        ]
        self._random = np.random.default_rng(SKETCH_SEED)
        self.rows = 0

    def add(self, features: np.ndarray) -> None:
        """Merge one chunk: features in model order (data.feature_array), in channel order."""
        self.rows += len(features)
        for position, column in enumerate(self._columns):
            values = features[:, position]
            if isinstance(column, _Numbers):
                keys = self._random.random(len(values))
                column.add(values.astype(float), keys)
            else:
                column.add(values)

    def statistics(self) -> dict[str, Any]:
        """Model Monitor's statistics.json of the rows merged so far."""
        return {
            "version": 0.0,
            "dataset": {"item_count": self.rows},
            "features": [
                column.statistics(name)
                for name, column in zip(self.schema.names, self._columns, strict=True)
            ],
        }

    def constraints(self) -> dict[str, Any]:
        """Model Monitor's suggested constraints.json for the same rows."""
        features = []
        for name, column in zip(self.schema.names, self._columns, strict=True):
            entry: dict[str, Any] = {"name": name}
            if isinstance(column, _Numbers):
                entry["inferred_type"] = column.inferred_type
                entry["completeness"] = column.present / self.rows if self.rows else 0.0
                entry["num_constraints"] = {"is_non_negative": bool(column.low >= 0)}
            else:
                present = sum(column.counts.values())
                entry["inferred_type"] = "String"
                entry["completeness"] = present / self.rows if self.rows else 0.0
                entry["string_constraints"] = {"domains": sorted(column.counts)}
            features.append(entry)
        return {"version": 0.0, "features": features, "monitoring_config": MONITORING_CONFIG}

    def write(self, model_dir: Path) -> None:
        """Both documents under `baselines/` in the model directory."""
        folder = model_dir / BASELINE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        documents = {STATISTICS_FILE: self.statistics(), CONSTRAINTS_FILE: self.constraints()}
        for name, document in documents.items():
            (folder / name).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
