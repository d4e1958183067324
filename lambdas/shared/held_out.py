"""The held-out test set as the pipeline scores it: read as the file has it, sent to an endpoint
in batches without its target column, and the regression metrics of the answers.

Shared by EvaluateModel (the gate) and RegisterModel (the reports the registry holds), so both
score the same records the same way.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from codepipeline_job import JobFailed

# InvokeEndpoint takes at most 6 MB per request; stay clear of it.
MAX_PAYLOAD_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class HeldOut:
    """The held-out records as the test file has them (target column included), their targets."""

    header: str
    lines: list[str]
    targets: list[float]
    columns: list[str] = field(default_factory=list)  # the header's names
    rows: list[list[str]] = field(default_factory=list)  # each record's fields, as read
    target_index: int = -1  # the target's column in `columns`, -1 for none

    def with_rows(self, rows: list[list[str]]) -> HeldOut:
        """The same header and targets with other field values (a permuted column), as CSV."""
        return HeldOut(
            self.header, _csv_lines(rows), self.targets, self.columns, rows, self.target_index
        )

    def requests(self) -> tuple[str, list[str]]:
        """(header, lines) as a client sends them: without the target. An endpoint that captures
        its traffic (prod) would otherwise hold the labels as an extra column, which its
        data-quality monitoring rightly reports."""
        if self.target_index < 0:
            return self.header, self.lines
        keep = [i for i in range(len(self.columns)) if i != self.target_index]
        header = _csv_lines([[self.columns[i] for i in keep]])[0]
        return header, _csv_lines([[row[i] for i in keep] for row in self.rows])


def _csv_lines(rows: list[list[str]]) -> list[str]:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().splitlines(keepends=True)


def load_test_set(text: str, target: str) -> HeldOut:
    """The test CSV's header and records as they are, and each record's numeric target."""
    consumed: list[str] = []  # the file's lines the reader has taken so far

    def lines() -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
            consumed.append(line)
            yield line

    reader = csv.reader(lines())
    header = next(reader, [])
    if target not in header:
        listed = ", ".join(header) or "no header"
        raise JobFailed(f"the test set has no column {target!r} (it has: {listed})")
    column = header.index(target)
    header_lines = taken = len(consumed)
    records, targets, rows = [], [], []
    for row in reader:
        first, taken = taken, len(consumed)  # this record is the file's lines first..taken
        if not row:
            continue  # a blank line, which the container skips too
        if len(row) != len(header):
            raise JobFailed(f"test set line {first + 1} has {len(row)} fields, not {len(header)}")
        try:
            targets.append(float(row[column]))
        except ValueError:
            raise JobFailed(f"test set line {first + 1}: {row[column]!r} is not a number") from None
        records.append("".join(consumed[first:taken]))
        rows.append(row)
    if not records:
        raise JobFailed("the test set has no records")
    return HeldOut("".join(consumed[:header_lines]), records, targets, header, rows, column)


def batches(header: str, lines: list[str], max_bytes: int) -> list[list[str]]:
    """Group the lines into requests that, header included, stay within max_bytes."""
    base = len(header.encode())
    groups: list[list[str]] = []
    size = max_bytes + 1  # forces a first group
    for line in lines:
        length = len(line.encode())
        if base + length > max_bytes:
            raise JobFailed(f"a test record of {length} bytes does not fit in one request")
        if size + length > max_bytes:
            groups.append([])
            size = base
        groups[-1].append(line)
        size += length
    return groups


def predict(
    runtime: Any, endpoint: str, test_set: HeldOut, max_bytes: int = MAX_PAYLOAD_BYTES
) -> list[float]:
    """The endpoint's predictions for every test record, without its target, in batches."""
    predictions: list[float] = []
    header, lines = test_set.requests()
    for group in batches(header, lines, max_bytes):
        response = runtime.invoke_endpoint(
            EndpointName=endpoint,
            Body=(header + "".join(group)).encode(),
            ContentType="text/csv",
            Accept="application/json",
        )
        try:
            answer = json.loads(response["Body"].read())["predictions"]
        except (ValueError, KeyError, TypeError):
            raise JobFailed(f'{endpoint} did not answer {{"predictions": [...]}}') from None
        if not isinstance(answer, list) or len(answer) != len(group):
            count = len(answer) if isinstance(answer, list) else "no list of"
            raise JobFailed(f"{endpoint} returned {count} predictions for {len(group)} records")
        if not all(isinstance(p, int | float) and not isinstance(p, bool) for p in answer):
            raise JobFailed(
                f"{endpoint} returned non-numeric predictions; the gate is for regression"
            )
        predictions.extend(float(p) for p in answer)
    return predictions


def regression_metrics(actual: list[float], predicted: list[float]) -> dict[str, float]:
    """MSE, RMSE, MAE and R² (R² is 1.0 for a perfect fit of a constant target, else 0.0)."""
    count = len(actual)
    errors = [p - a for a, p in zip(actual, predicted, strict=True)]
    mse = math.fsum(e * e for e in errors) / count
    mean = math.fsum(actual) / count
    total = math.fsum((a - mean) ** 2 for a in actual)
    r2 = 1.0 - mse * count / total if total else float(mse == 0)
    return {
        "mse": mse,
        "rmse": math.sqrt(mse),
        "mae": math.fsum(abs(e) for e in errors) / count,
        "r2": r2,
    }
