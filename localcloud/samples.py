"""Raw test-split records, as a client sends them to the API: the demo, bench and tests use them."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


def sample_records(splits_dir: Path, count: int) -> tuple[list[dict[str, Any]], list[str]]:
    """The first records of the test split as raw features, and their true rings."""
    with (splits_dir / "test" / "test.csv").open(newline="") as handle:
        rows = [row for _, row in zip(range(count), csv.DictReader(handle), strict=False)]
    truths = [row.pop("rings") for row in rows]
    records = [{k: (v if k == "sex" else float(v)) for k, v in row.items()} for row in rows]
    return records, truths
