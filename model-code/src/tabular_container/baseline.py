"""The training data's Model Monitor baselines: `statistics.json` and `constraints.json`.

`train` writes both to `baselines/` in the model directory (constants.BASELINE_DIR), in the
formats of SageMaker Model Monitor's data-quality baselining job, so that the model registry can
attach them to the version (ModelMetrics.ModelDataQuality, DriftCheckBaselines) and a monitoring
schedule can compare captured requests with them. They describe the feature columns only, in
the order a request sends them (the schema's order: the channel's header without the target).

Formats: the developer guide's "Schema for Statistics" (model-monitor-byoc-statistics) and
"Schema for Constraints" (model-monitor-byoc-constraints) pages. The statistics are exact, merged
chunk by chunk while `train` scores the train channel (the pass it makes anyway, none of their
own): counts, sum, mean and standard deviation (population form, Deequ's), least and greatest
value (from the survey pass, which has to know them before the buckets are counted), and Model
Monitor's 10 KLL buckets, bounded as Deequ's KLLSketch bounds them (`min + (max - min) * i / 10`,
each bucket closed below and open above but the last, closed on both sides) but counted exactly
rather than from the sketch. A categorical cell that is empty is a missing value.

The KLL `sketch` is Deequ's QuantileNonSample (the sketch Model Monitor's analyzer serializes)
with its defaults, c = 0.64 and k = 2048: `data` holds its compactors' buffers, level 0 first,
an item at level h standing for 2**h values (so the weights add up to num_present). Each chunk is
merged in as Deequ merges a partition's sketch: appended to level 0, then compacted while the
sketch holds as many items as its capacity. Below 2,050 values it holds every value as read; the
sketch depends on the chunk size (fixed for a given channel and hyperparameters), the buckets
and the other figures do not.

The constraints are what the baselining job suggests: the inferred type, the completeness seen,
`is_non_negative` when no value is below 0, the categories seen as the domain, and
`monitoring_config` with the defaults of the constraints page's table and example (0.1 for the
data type and domain content thresholds; the archived 2023 page and the analyzer's own
analytics_input.py, as printed from the prebuilt image, use 1.0 for those two), and the
distribution defaults of both the page and the analyzer: comparison enabled, thresholds 0.1,
the Robust comparison for numbers, LInfinity for categories.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tabular_container.constants import BASELINE_DIR, CONSTRAINTS_FILE, STATISTICS_FILE
from tabular_container.schema import Schema
from tabular_container.streaming import Moments

BUCKETS = 10  # Model Monitor's KLL distribution always has 10 buckets
SKETCH_K, SKETCH_C = 2048, 0.64  # Deequ's default sketch size and shrinking factor
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


class KllSketch:
    """Deequ's QuantileNonSample sketch of one column, fed a chunk at a time."""

    def __init__(self) -> None:
        self.levels: list[np.ndarray] = []
        self._compactions: list[int] = []
        self._offsets: list[int] = []
        self._expand()

    @staticmethod
    def capacity(height: int) -> int:
        """Items a level holds before it is compacted (Deequ's formula: smaller further up)."""
        return 2 * (math.ceil(SKETCH_K * SKETCH_C**height / 2) + 1)

    def _expand(self) -> None:
        self.levels.append(np.zeros(0))
        self._compactions.append(0)
        self._offsets.append(0)
        self._room = sum(self.capacity(h) for h in range(len(self.levels)))

    def add(self, values: np.ndarray) -> None:
        """Merge values (no NaN) into level 0, then compact as Deequ's merge does."""
        self.levels[0] = np.concatenate([self.levels[0], values])
        while sum(map(len, self.levels)) >= self._room:
            self._condense()

    def _condense(self) -> None:
        """Compact the lowest level at capacity into the one above."""
        for height, level in enumerate(self.levels):
            if len(level) >= self.capacity(height):
                if height + 1 == len(self.levels):
                    self._expand()
                self.levels[height + 1] = np.concatenate(
                    [self.levels[height + 1], self._compact(height)]
                )
                return

    def _compact(self, height: int) -> np.ndarray:
        """Every other item of the level sorted, from an offset that alternates every other
        compaction (0, 1, 1, 0, 0, ...); an odd item out stays."""
        level = self.levels[height]
        even = len(level) - len(level) % 2
        if self._compactions[height] % 2 == 1:
            self._offsets[height] = 1 - self._offsets[height]
        kept = np.sort(level[:even])[self._offsets[height] :: 2]
        self.levels[height] = level[even:]
        self._compactions[height] += 1
        return kept

    @property
    def weight(self) -> int:
        """The values the sketch stands for: each item at level h counts 2**h."""
        return sum(len(level) << height for height, level in enumerate(self.levels))

    def to_json(self) -> dict[str, Any]:
        """The `sketch` object of a KLL distribution."""
        return {
            "parameters": {"c": SKETCH_C, "k": float(SKETCH_K)},
            "data": [level.tolist() for level in self.levels],
        }


class _Strings:
    """One categorical column, merged chunk by chunk."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.missing = 0

    def add(self, values: np.ndarray) -> None:
        counts = pd.Series(values, dtype=object).value_counts(sort=False)
        self.missing += int(counts.pop("")) if "" in counts.index else 0
        self.counts.update({str(value): int(count) for value, count in counts.items()})

    @property
    def present(self) -> int:
        return sum(self.counts.values())

    def statistics(self) -> dict[str, Any]:
        return {
            "inferred_type": "String",
            "string_statistics": {
                "common": {"num_present": self.present, "num_missing": self.missing},
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
    """The baselines of a channel's feature columns, fed the feature arrays scoring reads."""

    def __init__(self, schema: Schema, ranges: tuple[tuple[float, float], ...]) -> None:
        """`ranges`: the (least, greatest) number of each numeric column, in schema order."""
        numeric = [i for i, is_number in enumerate(schema.numeric) if is_number]
        if len(ranges) != len(numeric) or not all(
            math.isfinite(low) and math.isfinite(high) and low <= high for low, high in ranges
        ):
            raise ValueError(f"need a finite (least, greatest) per numeric column, got {ranges}")
        self.schema = schema
        self.rows = 0
        self._numeric = np.array(numeric, dtype=np.int64)
        self._strings = {
            i: _Strings() for i, is_number in enumerate(schema.numeric) if not is_number
        }
        self._ranges = ranges
        self._edges = [
            np.array([low + (high - low) * i / BUCKETS for i in range(BUCKETS + 1)])
            for low, high in ranges
        ]
        self._moments = Moments(len(numeric))
        self._sums = np.zeros(len(numeric))
        self._whole = np.ones(len(numeric), dtype=bool)
        self._counts = np.zeros((len(numeric), BUCKETS), dtype=np.int64)
        self._sketches = [KllSketch() for _ in numeric]

    def add(self, features: np.ndarray) -> None:
        """Merge a chunk: features in schema order (data.feature_array), rows in channel order."""
        self.rows += len(features)
        numbers = features[:, self._numeric].astype(float)
        self._moments.add(numbers)
        self._sums += np.nansum(numbers, axis=0)
        self._whole &= np.all(np.isnan(numbers) | (numbers == np.floor(numbers)), axis=0)
        for column, edges in enumerate(self._edges):
            values = numbers[:, column]
            values = values[~np.isnan(values)]
            # The bucket of v: the inner bounds at or below it (the last bucket takes the max).
            buckets = np.searchsorted(edges[1:BUCKETS], values, side="right")
            self._counts[column] += np.bincount(buckets, minlength=BUCKETS)
            self._sketches[column].add(values)
        for position, strings in self._strings.items():
            strings.add(features[:, position])

    def _inferred_type(self, column: int) -> str:
        return "Integral" if self._whole[column] else "Fractional"

    def _numbers(self, column: int) -> dict[str, Any]:
        present = int(self._moments.count[column])
        edges = self._edges[column]
        low, high = self._ranges[column]
        return {
            "inferred_type": self._inferred_type(column),
            "numerical_statistics": {
                "common": {"num_present": present, "num_missing": self.rows - present},
                "mean": float(self._moments.mean[column]),
                "sum": float(self._sums[column]),
                "std_dev": float(self._moments.spread[column]),
                "min": low,
                "max": high,
                "distribution": {
                    "kll": {
                        "buckets": [
                            {
                                "lower_bound": float(edges[i]),
                                "upper_bound": float(edges[i + 1]),
                                "count": int(self._counts[column, i]),
                            }
                            for i in range(BUCKETS)
                        ],
                        "sketch": self._sketches[column].to_json(),
                    }
                },
            },
        }

    def _columns(self) -> list[tuple[str, int | None, _Strings | None]]:
        """Each feature in schema order: its name, and its numeric index or its strings."""
        numeric = iter(range(len(self._numeric)))
        return [
            (name, None, self._strings[i]) if i in self._strings else (name, next(numeric), None)
            for i, name in enumerate(self.schema.names)
        ]

    def statistics(self) -> dict[str, Any]:
        """Model Monitor's statistics.json of the rows merged so far."""
        features = [
            {"name": name, **(strings.statistics() if strings else self._numbers(column))}
            for name, column, strings in self._columns()
        ]
        return {"version": 0.0, "dataset": {"item_count": self.rows}, "features": features}

    def constraints(self) -> dict[str, Any]:
        """The constraints.json Model Monitor's baselining job suggests for the same rows."""
        features = []
        for name, column, strings in self._columns():
            if strings is not None:
                present = strings.present
                kind = {"inferred_type": "String"}
                check = {"string_constraints": {"domains": sorted(strings.counts)}}
            else:
                present = int(self._moments.count[column])
                kind = {"inferred_type": self._inferred_type(column)}
                check = {"num_constraints": {"is_non_negative": self._ranges[column][0] >= 0}}
            completeness = present / self.rows if self.rows else 0.0
            features.append({"name": name, **kind, "completeness": completeness, **check})
        return {"version": 0.0, "features": features, "monitoring_config": MONITORING_CONFIG}

    def write(self, model_dir: Path) -> None:
        """Both documents in the model directory's baselines/ folder."""
        folder = model_dir / BASELINE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        documents = {STATISTICS_FILE: self.statistics(), CONSTRAINTS_FILE: self.constraints()}
        for name, document in documents.items():
            text = json.dumps(document, indent=2, allow_nan=False)
            (folder / name).write_text(text + "\n", encoding="utf-8")
