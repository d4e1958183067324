"""The ground-truth merge: captured records joined with the labels collected for them.

Labels are Model Monitor's ground-truth records ({"groundTruthData": {"data", "encoding"},
"eventMetadata": {"eventId"}, "eventVersion"}), matched to a capture by its inferenceId when it
has one, else by its eventId (model-monitor-model-quality-merge). A merged record is the capture
record, unchanged, with the label's groundTruthData beside its captureData: what the analyzer
then reads as sagemakerMergeJson (docs/monitor.md says what is known of AWS's merger output).
The labels are held in memory (an id and a short text each); the captures stream. A second
label for the same id is counted as a duplicate and ignored (the first, in file order, wins).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from tabular_container.monitoring.records import Record, data_files, event_key, json_lines


def read_labels(source: Path, counts: Counter[str]) -> dict[str, dict[str, Any]]:
    """Each id's groundTruthData; malformed records and duplicates are counted."""
    labels: dict[str, dict[str, Any]] = {}
    label_counts: Counter[str] = Counter()
    for _, record in json_lines(data_files(source), label_counts):
        truth = record.get("groundTruthData")
        metadata = record.get("eventMetadata")
        key = None
        if isinstance(metadata, dict):
            key = metadata.get("eventId") or metadata.get("inferenceId")
        if not isinstance(truth, dict) or not isinstance(truth.get("data"), str) or key is None:
            counts["malformed_labels"] += 1
            continue
        counts["labels"] += 1
        if str(key) in labels:
            counts["duplicate_labels"] += 1
            continue
        labels[str(key)] = truth
    counts["malformed_labels"] += label_counts["malformed_lines"]
    return labels


def merged(
    captures: Iterator[tuple[Path, Record]],
    labels: dict[str, dict[str, Any]],
    counts: Counter[str],
) -> Iterator[tuple[Path, Record]]:
    """The captures that have a label, with it; the rest are counted."""
    used: set[str] = set()
    for path, record in captures:
        key = event_key(record)
        truth = labels.get(key) if key is not None else None
        if truth is None:
            counts["captured_without_label"] += 1
            continue
        used.add(key)
        counts["merged"] += 1
        yield path, {**record, "groundTruthData": truth}
    counts["unmatched_labels"] = len(labels.keys() - used)


def write_merged(records: Iterator[tuple[Path, Record]], source: Path, output: Path) -> int:
    """Write merged records under output_path, each in a file of its capture file's relative
    path (endpoint/variant/yyyy/mm/dd/hh/name.jsonl), as the merge output the analyzer reads."""
    written = 0
    handle: TextIO | None = None
    current: Path | None = None
    try:
        for path, record in records:
            if path != current:
                if handle is not None:
                    handle.close()
                relative = path.relative_to(source) if source.is_dir() else Path(path.name)
                target = output / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                handle, current = target.open("a", encoding="utf-8"), path
            handle.write(json.dumps(record, separators=(",", ":")) + "\n")
            written += 1
    finally:
        if handle is not None:
            handle.close()
    return written
