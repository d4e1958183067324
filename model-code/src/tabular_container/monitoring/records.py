"""Capture, ground-truth and merged records: JSON lines read one at a time, files in order.

dataset_source is read recursively, its files in sorted order (of their path below it), line by
line: memory follows one record, not the files. A line that is not a JSON object is counted and
skipped, as is a capture record outside the job's window (eventMetadata.inferenceTime in
[start_time, end_time)).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tabular_container.errors import UserError
from tabular_container.monitoring.constants import RECORD_SUFFIX
from tabular_container.monitoring.settings import MonitorSettings

Record = dict[str, Any]


def data_files(source: Path, suffix: str | None = RECORD_SUFFIX) -> list[Path]:
    """The files of a folder and its subfolders in sorted order (or the one file given)."""
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise UserError(f"{source} is neither a folder nor a file")
    files = [
        path
        for path in source.rglob("*")
        if path.is_file()
        and not path.name.startswith(".")
        and (suffix is None or path.name.endswith(suffix))
    ]
    return sorted(files, key=lambda path: path.relative_to(source).as_posix())


def json_lines(files: list[Path], counts: Counter[str]) -> Iterator[tuple[Path, Record]]:
    """Each JSON object, one line at a time, with the file it came from."""
    for path in files:
        counts["files"] += 1
        with path.open("rb") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    record = None
                if not isinstance(record, dict):
                    counts["malformed_lines"] += 1
                    continue
                yield path, record


def inference_time(record: Record) -> datetime | None:
    """eventMetadata.inferenceTime as a UTC instant, or None when absent or unreadable."""
    metadata = record.get("eventMetadata")
    text = metadata.get("inferenceTime") if isinstance(metadata, dict) else None
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def capture_records(
    settings: MonitorSettings, counts: Counter[str], source: Path | None = None
) -> Iterator[tuple[Path, Record]]:
    """The capture (or merged) records of dataset_source inside the job's window."""
    windowed = settings.start_time is not None or settings.end_time is not None
    for path, record in json_lines(data_files(source or settings.dataset_source), counts):
        if not isinstance(record.get("captureData"), dict):
            counts["malformed_lines"] += 1
            continue
        if windowed:
            moment = inference_time(record)
            if moment is None or not settings.in_window(moment):
                counts["outside_window"] += 1
                continue
        counts["records"] += 1
        yield path, record


def event_key(record: Record) -> str | None:
    """The id a label matches: the capture's inferenceId when it has one, else its eventId."""
    metadata = record.get("eventMetadata")
    if not isinstance(metadata, dict):
        return None
    key = metadata.get("inferenceId") or metadata.get("eventId")
    return str(key) if key is not None else None
