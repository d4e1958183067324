"""Decode request bodies into model rows and encode predictions: one table per direction.

Rows come out as an object array in schema order (floats, NaN when missing, and strings), the
input the model's own preprocessing takes, so no DataFrame is built per request.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Sequence
from functools import lru_cache
from http import HTTPStatus

import numpy as np

from tabular_container.constants import CSV, JSON
from tabular_container.numerals import EMPTY, PLAIN, text_number
from tabular_container.schema import Schema

DEFAULT_ACCEPT = JSON
# Wildcards a client may send in Accept, and the type each resolves to.
WILDCARDS = {"*/*": JSON, "application/*": JSON, "text/*": CSV}
JSON_SHAPE = '{"instances": [{"column": value, ...}, ...]}'


class RequestError(Exception):
    """A request the server refuses, with the HTTP status and a message for the caller."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _bad(message: str) -> RequestError:
    return RequestError(HTTPStatus.BAD_REQUEST, message)


def _number(value: object, where: str, column: str) -> float:
    """A numeric cell as a float, read as training reads CSV (numerals.py); null is missing."""
    if isinstance(value, str):
        number = text_number(value)
    elif value is None:
        number = EMPTY
    elif isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)):
        try:
            number = float(value)  # a JSON number; json.loads also reads NaN and Infinity
        except OverflowError:
            number = None
        else:
            number = number if math.isfinite(number) else None
    else:
        number = None
    if number is None:
        raise _bad(f"{where}, column {column}: {value!r} is not a finite number ({PLAIN})")
    return number


def _category(value: object, where: str, column: str) -> str:
    """A categorical cell as text, the way training read it from CSV; null is empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    raise _bad(f"{where}, column {column}: {value!r} is not a string or number")


def _to_array(
    rows: Sequence[Sequence[object]], labels: Sequence[str], schema: Schema
) -> np.ndarray:
    """Convert raw cells (already in schema order) to the model's object array."""
    array = np.empty((len(rows), len(schema.names)), dtype=object)
    numeric = schema.numeric
    names = schema.names
    for i, (row, where) in enumerate(zip(rows, labels, strict=True)):
        array[i] = [
            _number(value, where, names[j]) if numeric[j] else _category(value, where, names[j])
            for j, value in enumerate(row)
        ]
    return array


def _header_order(header: list[str], schema: Schema) -> list[int]:
    """For each feature in schema order, its field index in a CSV header; refuse bad headers."""
    duplicated = sorted({name for name in header if header.count(name) > 1})
    unknown = [name for name in header if name not in schema.positions and name != schema.target]
    missing = [name for name in schema.names if name not in header]
    if duplicated or unknown or missing:
        problems = [
            f"{label}: {', '.join(names)}"
            for label, names in (
                ("missing column(s)", missing),
                ("unknown column(s)", unknown),
                ("repeated column(s)", duplicated),
            )
            if names
        ]
        raise _bad(f"CSV header has {'; '.join(problems)}; expected {', '.join(schema.names)}")
    return [header.index(name) for name in schema.names]


def decode_csv(body: bytes, schema: Schema) -> np.ndarray:
    """CSV rows in schema order, or after a header row (one naming any known column)."""
    try:
        text = body.decode("utf-8-sig")
        rows = [row for row in csv.reader(io.StringIO(text), strict=True) if row]
    except UnicodeDecodeError:
        raise _bad("CSV body is not UTF-8 text") from None
    except csv.Error as error:
        raise _bad(f"malformed CSV: {error}") from None
    if not rows:
        raise _bad("CSV body has no rows")
    known = set(schema.names) | {schema.target}
    if any(field in known for field in rows[0]):
        header = rows.pop(0)
        order, width, hint = _header_order(header, schema), len(header), "as in the header"
        if not rows:
            raise _bad("CSV body has a header but no rows")
    else:
        order, width = list(range(len(schema.names))), len(schema.names)
        hint = f"({', '.join(schema.names)}) or a header row first"
    cells, labels = [], []
    for number, row in enumerate(rows, start=1):
        if len(row) != width:
            raise _bad(f"row {number} has {len(row)} fields, expected {width} {hint}")
        cells.append([row[index] for index in order])
        labels.append(f"row {number}")
    return _to_array(cells, labels, schema)


def decode_json(body: bytes, schema: Schema) -> np.ndarray:
    """{"instances": [{column: value}]}; the target column may be present and is ignored."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise _bad(f"malformed JSON: {error}") from None
    instances = document.get("instances") if isinstance(document, dict) else None
    if not isinstance(instances, list) or not instances:
        raise _bad(f"JSON body must be {JSON_SHAPE} with at least one instance")
    names = schema.names
    allowed = set(names) | {schema.target}
    cells, labels = [], []
    for i, instance in enumerate(instances):
        where = f"instances[{i}]"
        if not isinstance(instance, dict):
            raise _bad(f"{where} must be an object of column: value, as in {JSON_SHAPE}")
        try:
            cells.append([instance[name] for name in names])
        except KeyError:
            missing = [name for name in names if name not in instance]
            raise _bad(f"{where} lacks column(s): {', '.join(missing)}") from None
        if len(instance) > len(names):
            unknown = sorted(set(instance) - allowed)
            if unknown:
                raise _bad(
                    f"{where} has unknown column(s): {', '.join(unknown)}; "
                    f"expected {', '.join(names)}"
                )
        labels.append(where)
    return _to_array(cells, labels, schema)


def encode_json(predictions: list[object]) -> bytes:
    """{"predictions": [...]}, compact."""
    return json.dumps({"predictions": predictions}, separators=(",", ":")).encode()


def encode_csv(predictions: list[object]) -> bytes:
    """One prediction per line."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([prediction] for prediction in predictions)
    return out.getvalue().encode()


Decoder = Callable[[bytes, Schema], np.ndarray]
Encoder = Callable[[list[object]], bytes]
DECODERS: dict[str, Decoder] = {CSV: decode_csv, JSON: decode_json}
ENCODERS: dict[str, Encoder] = {JSON: encode_json, CSV: encode_csv}


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


@lru_cache(maxsize=64)
def decoder_for(content_type: str) -> Decoder:
    """The decoder for a Content-Type header, or 415."""
    decoder = DECODERS.get(_media_type(content_type))
    if decoder is None:
        raise RequestError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type {content_type or '(none)'} is not supported; "
            f"send {' or '.join(DECODERS)}",
        )
    return decoder


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


@lru_cache(maxsize=64)
def encoder_for(accept: str) -> tuple[str, Encoder]:
    """The media type and encoder an Accept header prefers (JSON when absent), or 406."""
    if not accept.strip():
        return DEFAULT_ACCEPT, ENCODERS[DEFAULT_ACCEPT]
    ranked = []
    for entry in accept.split(","):
        media_type, *parameters = entry.split(";")
        ranked.append((-_quality(parameters), len(ranked), _media_type(media_type)))
    for quality, _, media_type in sorted(ranked):
        resolved = WILDCARDS.get(media_type, media_type)
        if quality < 0 and resolved in ENCODERS:
            return resolved, ENCODERS[resolved]
    raise RequestError(
        HTTPStatus.NOT_ACCEPTABLE,
        f"cannot answer in {accept}; accept {' or '.join(ENCODERS)}",
    )
