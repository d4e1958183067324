"""Decode request bodies into model rows and encode predictions: one table per direction.

Rows come out as an object array in schema order (floats, NaN when missing, and strings), the
input the model's own preprocessing takes, so no DataFrame is built per request. A large CSV body
is read column-wise by pandas' C parser instead, into ColumnRows, when that reading is sure to be
the per-cell one; anything else takes the per-cell path, whose errors name row and column.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from http import HTTPStatus

import numpy as np
import pandas as pd

from tabular_container.constants import CSV, JSON, JSONLINES
from tabular_container.numerals import EMPTY, PLAIN, text_number
from tabular_container.rows import ColumnRows, Rows
from tabular_container.schema import Schema

DEFAULT_ACCEPT = JSON
# Wildcards a client may send in Accept, and the type each resolves to.
WILDCARDS = {"*/*": JSON, "application/*": JSON, "text/*": CSV}
JSON_SHAPE = '{"instances": [{"column": value, ...}, ...]}'
JSONLINES_SHAPE = '{"column": value, ...} on each line'
# From this size on a CSV body goes to pandas' C parser: below it, its fixed cost of a few
# hundred microseconds is more than the per-cell loop takes (about 4 µs a row).
FAST_CSV_BYTES = 16 * 1024
# The bytes the column-wise reading is sure to read as csv.reader does: printable ASCII but the
# quote and the space (a line of spaces is a row to csv.reader, nothing to pandas), line ends.
PLAIN_CSV_BYTES = bytes(byte for byte in range(0x21, 0x7F) if byte != ord('"')) + b"\r\n"
# Where float parsing fails, pandas tries these as booleans, and a float column takes 1 or 0.
BOOLEAN_WORDS = (b"true", b"True", b"TRUE", b"false", b"False", b"FALSE")
LINE_SCAN_BYTES = 1 << 22
READ_CHUNK_ROWS = 1 << 16
LINE_ENDS = re.compile(rb"[\r\n]*")
# Predictions are encoded this many at a time, so no list of millions of strings is built.
ENCODE_CHUNK = 8192


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


def _csv_cells(body: bytes, schema: Schema) -> np.ndarray:
    """The per-cell reading of a CSV body: each cell checked, errors naming row and column."""
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


NEWLINE, CARRIAGE_RETURN, COMMA = ord("\n"), ord("\r"), ord(",")


def _longest_line(body: bytes) -> int:
    """The longest line's length in bytes, counting its end, scanned in windows of fixed size."""
    view = np.frombuffer(body, dtype=np.uint8)
    longest, previous = 0, -1
    for start in range(0, len(view), LINE_SCAN_BYTES):
        ends = np.flatnonzero(view[start : start + LINE_SCAN_BYTES] == ord("\n")) + start
        if len(ends):
            longest = max(longest, int(np.diff(ends, prepend=previous).max()))
            previous = int(ends[-1])
    return max(longest, len(view) - 1 - previous)


def _one_width(body: bytes, commas: int) -> bool:
    """Whether every non-empty line of a plain body has `commas` commas, in windows of lines.

    A total count is not enough: pandas takes a first row one field longer than the header for
    an index column and pads shorter rows, so a long row and a short one balance.
    """
    view = np.frombuffer(body, dtype=np.uint8)
    start = 0
    while start < len(view):
        end = body.rfind(b"\n", start, start + LINE_SCAN_BYTES) + 1
        if end <= start:  # one line longer than the window: up to its end
            end = body.find(b"\n", start + LINE_SCAN_BYTES) + 1 or len(view)
        if start + LINE_SCAN_BYTES >= len(view):
            end = len(view)
        window = view[start:end]
        starts = np.flatnonzero(window[:-1] == NEWLINE) + 1
        starts = np.concatenate(([0], starts))
        per_line = np.add.reduceat((window == COMMA).view(np.uint8), starts, dtype=np.int64)
        empty = (window[starts] == NEWLINE) | (window[starts] == CARRIAGE_RETURN)
        if (per_line[~empty] != commas).any():
            return False
        start = end
    return True


def _plain_csv(body: bytes) -> bool:
    """Whether csv.reader and pandas split this body into the same lines and cells.

    No quotes, spaces, other controls or non-ASCII bytes, no word pandas reads as a boolean;
    \r only before \n; no line longer than csv.reader's field limit (past which it refuses the
    body).
    """
    if body.translate(None, PLAIN_CSV_BYTES) or any(word in body for word in BOOLEAN_WORDS):
        return False
    if b"\r" in body and body.count(b"\r") != body.count(b"\r\n"):
        return False
    limit = csv.field_size_limit()
    return len(body) <= limit or _longest_line(body) <= limit


def _first_line(body: bytes) -> list[str]:
    """The cells of the first non-empty line of a plain body."""
    start = LINE_ENDS.match(body).end()
    end = body.find(b"\n", start)
    return body[start : end if end >= 0 else len(body)].rstrip(b"\r").decode("ascii").split(",")


def _csv_columns(body: bytes, schema: Schema) -> ColumnRows | None:
    """The rows of a CSV body read column-wise by pandas' C parser, None when it cannot be sure.

    Sure means the per-cell path would read the same: a plain body (_plain_csv), every line of
    the first one's width (counted line by line, _one_width), every number finite as pandas
    parsed it (its parser rounds as float() does and refuses the spellings text_number refuses
    but inf, which comes out infinite), NaN only for an empty number. A header the per-cell
    path would refuse is left to it, to word the error.
    """
    if not _plain_csv(body):
        return None
    fields = _first_line(body)
    if any(field in schema.positions or field == schema.target for field in fields):
        try:
            _header_order(fields, schema)
        except RequestError:
            return None
        keys, header, columns = list(schema.names), 0, fields
    elif len(fields) == len(schema.names):
        keys, header = list(range(len(fields))), None
        columns = keys
    else:
        return None
    numeric = [key for key, number in zip(keys, schema.numeric, strict=True) if number]
    # Text as strings, never inferred (a column of digits stays text); the target's too, unread.
    types = dict.fromkeys(columns, object) | dict.fromkeys(numeric, np.float64)
    # Read a chunk of rows at a time into arrays sized for every line: pandas' whole-body
    # frame would take twice the columns' memory on the way (its chunks, then their join).
    capacity = body.count(b"\n") + 1
    columns_read = [np.empty(capacity, np.float64 if key in numeric else object) for key in keys]
    length = 0
    try:
        with pd.read_csv(
            io.BytesIO(body),
            header=header,
            dtype=types,
            keep_default_na=False,
            na_values={key: [""] for key in numeric},
            engine="c",
            chunksize=READ_CHUNK_ROWS,
        ) as chunks:
            for frame in chunks:
                if frame.shape[1] != len(fields):
                    return None
                for column, key in zip(columns_read, keys, strict=True):
                    column[length : length + len(frame)] = frame[key].to_numpy()
                length += len(frame)
    except (ValueError, OverflowError):
        return None
    if not length or not _one_width(body, len(fields) - 1):
        return None
    read = [column[:length] for column in columns_read]
    numbers = (column for column, key in zip(read, keys, strict=True) if key in numeric)
    if any(np.isinf(column).any() for column in numbers):
        return None
    return ColumnRows(read)


def decode_csv(body: bytes, schema: Schema) -> Rows:
    """CSV rows in schema order, or after a header row (one naming any known column).

    Empty lines are skipped, so each record is a non-empty line (batch transform's runner
    counts on it: one answer line per input line). A large body is read column-wise when that
    is sure (_csv_columns), into ColumnRows; otherwise cell by cell.
    """
    if len(body) >= FAST_CSV_BYTES:
        rows = _csv_columns(body, schema)
        if rows is not None:
            return rows
    return _csv_cells(body, schema)


def _record_cells(
    record: object, schema: Schema, where: str, lead: str, shape: str
) -> list[object]:
    """One JSON record's cells in schema order; `lead` begins the messages about the record."""
    names = schema.names
    if not isinstance(record, dict):
        raise _bad(f"{lead} must be an object of column: value, as in {shape}")
    try:
        cells = [record[name] for name in names]
    except KeyError:
        missing = [name for name in names if name not in record]
        raise _bad(f"{lead} lacks column(s): {', '.join(missing)}") from None
    if len(record) > len(names):
        unknown = sorted(
            column
            for column in record
            if column not in schema.positions and column != schema.target
        )
        if unknown:
            raise _bad(
                f"{lead} has unknown column(s): {', '.join(unknown)}; expected {', '.join(names)}"
            )
    return cells


def decode_json(body: bytes, schema: Schema) -> np.ndarray:
    """{"instances": [{column: value}]}; the target column may be present and is ignored."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise _bad(f"malformed JSON: {error}") from None
    instances = document.get("instances") if isinstance(document, dict) else None
    if not isinstance(instances, list) or not instances:
        raise _bad(f"JSON body must be {JSON_SHAPE} with at least one instance")
    labels = [f"instances[{i}]" for i in range(len(instances))]
    cells = [
        _record_cells(instance, schema, where, where, JSON_SHAPE)
        for instance, where in zip(instances, labels, strict=True)
    ]
    return _to_array(cells, labels, schema)


def decode_jsonlines(body: bytes, schema: Schema) -> np.ndarray:
    """One JSON object per non-blank line, each read as one of a JSON body's instances.

    Errors name the line by its number among the non-blank lines (`line N: ...`,
    `line N, column X: ...`): batch transform's records, one answer line each.
    """
    cells, labels = [], []
    for line in body.split(b"\n"):
        if not line.strip():
            continue
        where = f"line {len(labels) + 1}"
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as error:
            raise _bad(f"{where}: malformed JSON: {error}") from None
        cells.append(_record_cells(record, schema, where, f"{where}:", JSONLINES_SHAPE))
        labels.append(where)
    if not cells:
        raise _bad("JSON Lines body has no records")
    return _to_array(cells, labels, schema)


def _chunks(predictions: list[object]) -> Iterator[list[object]]:
    for start in range(0, len(predictions), ENCODE_CHUNK):
        yield predictions[start : start + ENCODE_CHUNK]


def encode_json(predictions: list[object]) -> bytes:
    """{"predictions": [...]}, compact."""
    items = (
        json.dumps(chunk, separators=(",", ":"))[1:-1].encode() for chunk in _chunks(predictions)
    )
    return b'{"predictions":[' + b",".join(items) + b"]}"


def encode_jsonlines(predictions: list[object]) -> bytes:
    """One line per record: {"prediction": value} and a newline.

    json.dumps writes no raw newline inside a value (it escapes them), so a newline as the
    separator between a list's items gives one record a line.
    """
    return b"".join(
        json.dumps([{"prediction": value} for value in chunk], separators=("\n", ":"))[
            1:-1
        ].encode()
        + b"\n"
        for chunk in _chunks(predictions)
    )


def encode_csv(predictions: list[object]) -> bytes:
    """One prediction per line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for chunk in _chunks(predictions):
        writer.writerows(zip(chunk))
    return out.getvalue().encode()


def record_name(decoder: Decoder, index: int) -> str:
    """How messages name the record at index of a decoded body, as that decoder's errors do."""
    if decoder is decode_json:
        return f"instances[{index}]"
    if decoder is decode_jsonlines:
        return f"line {index + 1}"
    return f"row {index + 1}"


Decoder = Callable[[bytes, Schema], Rows]
Encoder = Callable[[list[object]], bytes]
DECODERS: dict[str, Decoder] = {CSV: decode_csv, JSON: decode_json, JSONLINES: decode_jsonlines}
ENCODERS: dict[str, Encoder] = {JSON: encode_json, CSV: encode_csv, JSONLINES: encode_jsonlines}


def _alternatives(media_types: Iterable[str]) -> str:
    *others, last = media_types
    return f"{', '.join(others)} or {last}"


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
            f"send {_alternatives(DECODERS)}",
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
        f"cannot answer in {accept}; accept {_alternatives(ENCODERS)}",
    )
