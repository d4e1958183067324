"""Captured request and response bodies, decoded as `serve` reads and writes them (codecs.py).

A request body holds one or more records: CSV lines (with or without a header row naming the
features) or JSON {"instances": [{...}, ...]}. Cells come out as text in the layout's column
order ("" when missing), so CSV and JSON bodies of the same rows give the same cells: a JSON
number is written as Python writes a float (exact), a category as codecs._category reads it.
Single-line CSV bodies without a header, the common case, are gathered and read by the csv
module in one call per chunk; the others are read one by one. A body that is BASE64 (capture
had no content type for it) is decoded when its observed type is CSV or JSON, and otherwise
skipped and counted, as is one that cannot be read.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from tabular_container.constants import CSV, JSON

ENCODINGS = ("CSV", "JSON", "BASE64")


def _media_type(entry: dict[str, Any]) -> str:
    return str(entry.get("observedContentType", "")).split(";", 1)[0].strip().lower()


def body_text(entry: object, counts: Counter[str]) -> tuple[str, str] | None:
    """(media type, text) of a captured body, or None (counted) when it cannot be read."""
    if not isinstance(entry, dict) or not isinstance(entry.get("data"), str):
        counts["unreadable_bodies"] += 1
        return None
    encoding, media, data = (
        str(entry.get("encoding", "")).upper(),
        _media_type(entry),
        entry["data"],
    )
    if encoding == "BASE64":
        if media not in (CSV, JSON):
            counts["base64_skipped"] += 1
            return None
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            counts["unreadable_bodies"] += 1
            return None
    elif encoding == "CSV":
        media = CSV
    elif encoding == "JSON":
        media = JSON
    if media not in (CSV, JSON):
        counts["unreadable_bodies"] += 1
        return None
    return media, data


def _cell(value: object) -> str:
    """A JSON value as the text a CSV body would carry for it."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return str(value)  # floats as repr (exact), ints, and booleans as text that is no number


class InputDecoder:
    """Request bodies into rows of cells in the order of `names`, chunk by chunk.

    Without names (no baseline), the first body fixes them: a CSV header's, the first JSON
    instance's keys, or _c0, _c1, ... for CSV without a header (the analyzer's names).
    Columns no body ever supplies are `missing`; columns beyond them are counted in `extras`.
    """

    def __init__(self, names: Sequence[str] | None, known: Sequence[str] = ()) -> None:
        self.names: list[str] | None = None
        self.positions: dict[str, int] = {}
        if names is not None:
            self._set_names(list(names))
        self.known = set(known)  # other names a CSV header may hold (the target, say)
        self.supplied: set[str] = set()
        self.extras: Counter[str] = Counter()
        self._plain: list[str] = []
        self._rows: list[list[str]] = []
        self._order: list[tuple[int, int]] = []  # (0 plain / 1 row, how many), in arrival order

    def _set_names(self, names: list[str]) -> None:
        self.names, self.positions = names, {name: i for i, name in enumerate(names)}

    @property
    def width(self) -> int:
        return len(self.names or ())

    def add(self, media: str, text: str, counts: Counter[str]) -> int:
        """Take a body; the number of records it held (0 when it could not be read)."""
        rows = self._add_csv(text) if media == CSV else self._add_json(text)
        if rows == 0:
            counts["unreadable_bodies"] += 1
        return rows

    def _push(self, kind: int, count: int) -> None:
        if self._order and self._order[-1][0] == kind:
            self._order[-1] = (kind, self._order[-1][1] + count)
        else:
            self._order.append((kind, count))

    def _add_csv(self, text: str) -> int:
        text = text.lstrip("\ufeff")
        stripped = text.strip("\r\n")
        if self.names is not None and "\n" not in stripped and '"' not in stripped:
            first = stripped.split(",")
            if not any(field in self.positions or field in self.known for field in first):
                self._plain.append(stripped)
                self._push(0, 1)
                return 1
        try:
            rows = [row for row in csv.reader(io.StringIO(text), strict=True) if row]
        except csv.Error:
            return 0
        if not rows:
            return 0
        header = rows[0]
        if self.names is None:
            initial = self._is_header(header, initial=True)
            self._set_names(header if initial else [f"_c{i}" for i in range(len(header))])
        if self._is_header(header):
            rows.pop(0)
            order = [header.index(name) if name in header else -1 for name in self.names]
            self.supplied.update(name for name in self.names if name in header)
            self.extras.update(name for name in header if name not in self.positions)
            for row in rows:
                self._rows.append([row[i] if 0 <= i < len(row) else "" for i in order])
        else:
            for row in rows:
                self._rows.append(self._positional(row))
        self._push(1, len(rows))
        return len(rows)

    def _is_header(self, fields: list[str], initial: bool = False) -> bool:
        if initial:  # no names yet: a header is a row of which no field is a number
            return all(_not_number(field) for field in fields)
        return any(field in self.positions or field in self.known for field in fields)

    def _positional(self, row: list[str]) -> list[str]:
        width = self.width
        self.supplied.update((self.names or [])[: len(row)])
        if len(row) > width:
            self.extras.update(f"_c{i}" for i in range(width, len(row)))
            return row[:width]
        return row + [""] * (width - len(row))

    def _add_json(self, text: str) -> int:
        try:
            document = json.loads(text)
        except ValueError:
            return 0
        instances = document.get("instances") if isinstance(document, dict) else document
        if not isinstance(instances, list) or not instances:
            return 0
        instances = [instance for instance in instances if isinstance(instance, dict)]
        if not instances:
            return 0
        if self.names is None:
            self._set_names(list(instances[0]))
        positions = self.positions
        for instance in instances:
            self.supplied.update(name for name in instance if name in positions)
            if len(instance) > len(positions) or any(name not in positions for name in instance):
                self.extras.update(
                    name for name in instance if name not in positions and name not in self.known
                )
            self._rows.append([_cell(instance.get(name)) for name in self.names])
        self._push(1, len(instances))
        return len(instances)

    def take(self) -> np.ndarray:
        """The cells gathered since the last call, rows in arrival order, as an object array."""
        width = self.width
        plain = list(csv.reader(self._plain)) if self._plain else []
        parts, p, r = [], 0, 0
        for kind, count in self._order:
            if kind == 0:
                block = plain[p : p + count]
                p += count
                if any(len(row) != width for row in block):
                    block = [self._positional(row) for row in block]
                else:
                    self.supplied.update(self.names or ())
            else:
                block = self._rows[r : r + count]
                r += count
            parts.extend(block)
        self._plain, self._rows, self._order = [], [], []
        cells = np.empty((len(parts), width), dtype=object)
        if parts:
            cells[:] = parts
        return cells


def _not_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return True
    return False


def predictions(text: str, media: str, attribute: str | None) -> list[float] | None:
    """The predictions of a response body: {"predictions": [...]} or one CSV line each.

    inference_attribute, when set, names the JSON key (a bare name or $.name) or the CSV column
    index of the prediction; None when the body holds no numbers there.
    """
    try:
        if media == JSON:
            document = json.loads(text)
            # a column index (the analyzer's "0" for CSV answers) means the predictions list
            named = attribute and not attribute.isdigit()
            key = attribute.removeprefix("$.") if named else "predictions"
            values = document.get(key) if isinstance(document, dict) else document
            if not isinstance(values, list):
                values = [values]
            return [float(value) for value in values]
        column = int(attribute) if attribute and attribute.isdigit() else 0
        rows = [row for row in csv.reader(io.StringIO(text)) if row]
        return [float(row[column]) for row in rows]
    except (ValueError, TypeError, IndexError, AttributeError):
        return None
