"""Request bodies become model rows, or a 4xx naming the problem; never another exception."""

from __future__ import annotations

import json
import math
import re
import string
from http import HTTPStatus
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tabular_container import codecs
from tabular_container.codecs import (
    DECODERS,
    ENCODE_CHUNK,
    ENCODERS,
    FAST_CSV_BYTES,
    RequestError,
    _csv_cells,
    _csv_columns,
    _one_width,
    decode_csv,
    decode_json,
    decode_jsonlines,
    decoder_for,
    encode_csv,
    encode_json,
    encode_jsonlines,
    encoder_for,
)
from tabular_container.constants import REQUEST_TYPES, RESPONSE_TYPES
from tabular_container.rows import ColumnRows

ROW = {"sex": "M", "length": 0.455, "weight": 0.514}


def rejected(call, *args) -> RequestError:
    with pytest.raises(RequestError) as caught:
        call(*args)
    return caught.value


def test_csv_without_header_is_in_schema_order(schema):
    rows = decode_csv(b"M,0.455,0.514\nI,0.3,\n", schema)

    assert rows.tolist()[0] == ["M", 0.455, 0.514]
    assert rows[1, 0] == "I"
    assert math.isnan(rows[1, 2])  # empty means missing: the model imputes it


def test_csv_with_header_may_reorder_columns_and_carry_the_target(schema):
    rows = decode_csv(b"weight,rings,sex,length\r\n0.514,9,M,0.455\r\n", schema)

    assert rows.tolist() == [["M", 0.455, 0.514]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "no rows"),
        (b"\n\n", "no rows"),
        (b"sex,length,weight\n", "header but no rows"),
        (b"M,0.455\n", "row 1 has 2 fields, expected 3 (sex, length, weight)"),
        (b"M,0.455,0.5\nF,0.1,0.2,9\n", "row 2 has 4 fields"),
        (b"M,0.455,abc\n", "row 1, column weight: 'abc' is not a finite number"),
        (b"M,0.455,inf\n", "column weight: 'inf' is not a finite number"),
        (b"sex,length\nM,0.4\n", "missing column(s): weight"),
        (b"sex,length,weight,colour\nM,0.4,0.1,red\n", "unknown column(s): colour"),
        (b"sex,length,length,weight\nM,1,1,1\n", "repeated column(s): length"),
        (b'M,"0.4,0.5\n', "malformed CSV"),
        (b"\xff\xfe,1,2\n", "not UTF-8"),
    ],
)
def test_bad_csv_is_a_400_naming_the_problem(schema, body, message):
    error = rejected(decode_csv, body, schema)

    assert error.status == HTTPStatus.BAD_REQUEST
    assert message in error.message


def test_json_instances_are_objects_of_column_values(schema):
    body = json.dumps({"instances": [ROW, {**ROW, "rings": 9, "weight": None}]}).encode()

    rows = decode_json(body, schema)

    assert rows.tolist()[0] == ["M", 0.455, 0.514]
    assert math.isnan(rows[1, 2])


def test_json_numbers_may_come_as_strings(schema):
    body = json.dumps({"instances": [{**ROW, "length": "0.5"}]}).encode()

    assert decode_json(body, schema)[0, 1] == 0.5


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"instances": []}, "at least one instance"),
        ({"rows": [ROW]}, '{"instances": [{"column": value, ...}, ...]}'),
        ([ROW], "JSON body must be"),
        ({"instances": [[1, 2, 3]]}, "instances[0] must be an object"),
        ({"instances": [ROW, {"sex": "M"}]}, "instances[1] lacks column(s): length, weight"),
        ({"instances": [{**ROW, "colour": "red"}]}, "instances[0] has unknown column(s): colour"),
        ({"instances": [{**ROW, "length": "abc"}]}, "instances[0], column length: 'abc' is not"),
        ({"instances": [{**ROW, "length": True}]}, "column length: True is not a finite number"),
        ({"instances": [{**ROW, "length": [1]}]}, "column length: [1] is not"),
        ({"instances": [{**ROW, "sex": {"a": 1}}]}, "column sex: {'a': 1} is not a string"),
    ],
)
def test_bad_json_is_a_400_naming_the_problem(schema, document, message):
    error = rejected(decode_json, json.dumps(document).encode(), schema)

    assert error.status == HTTPStatus.BAD_REQUEST
    assert message in error.message


@pytest.mark.parametrize(
    "body", [b"{", b'{"instances": [', b"nan", b"[" * 100_000, b"1" * 5000, b"\xff"]
)
def test_malformed_json_is_a_400(schema, body):
    assert rejected(decode_json, body, schema).status == HTTPStatus.BAD_REQUEST


def test_a_json_number_too_big_for_a_float_is_refused(schema):
    body = b'{"instances": [{"sex": "M", "length": 1' + b"0" * 400 + b', "weight": 1}]}'

    assert "is not a finite number" in rejected(decode_json, body, schema).message


@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_a_request_error(schema, body):
    for decode in (decode_csv, decode_json, decode_jsonlines):
        try:
            rows = decode(body, schema)
        except RequestError as error:
            assert error.status == HTTPStatus.BAD_REQUEST
        else:
            assert rows.shape[1] == 3


def test_predictions_encode_as_json_and_csv():
    assert json.loads(encode_json([1.5, 2.0])) == {"predictions": [1.5, 2.0]}
    assert encode_csv([1.5, 2.0]) == b"1.5\n2.0\n"
    assert encode_csv(["a,b", "c"]) == b'"a,b"\nc\n'


@pytest.mark.parametrize(
    ("content_type", "decoder"),
    [
        ("text/csv", decode_csv),
        ("text/csv; charset=utf-8", decode_csv),
        ("Application/JSON", decode_json),
    ],
)
def test_content_type_picks_the_decoder(content_type, decoder):
    assert decoder_for(content_type) is decoder


@pytest.mark.parametrize("content_type", ["", "application/x-www-form-urlencoded", "text/plain"])
def test_other_content_types_are_a_415(content_type):
    error = rejected(decoder_for, content_type)

    assert error.status == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    assert "text/csv, application/json or application/jsonlines" in error.message


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("", "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        ("text/csv", "text/csv"),
        ("text/*", "text/csv"),
        ("image/png, text/csv;q=0.5", "text/csv"),
        ("text/csv;q=0.4, application/json;q=0.9", "application/json"),
        ("application/json;q=0, text/csv", "text/csv"),
    ],
)
def test_accept_picks_the_encoder(accept, media_type):
    assert encoder_for(accept)[0] == media_type


@pytest.mark.parametrize("accept", ["image/png", "text/html, application/xml", "text/csv;q=0"])
def test_unanswerable_accept_is_a_406(accept):
    error = rejected(encoder_for, accept)

    assert error.status == HTTPStatus.NOT_ACCEPTABLE
    assert "application/json, text/csv or application/jsonlines" in error.message


def test_json_lines_are_instances_one_a_line_blank_lines_skipped(schema):
    body = b'\n{"sex": "M", "length": 0.455, "weight": 0.514}\n\n{"sex": "I", "length": "0.3", ' + (
        b'"weight": null, "rings": 7}\r\n  \n'
    )

    rows = decode_jsonlines(body, schema)

    assert rows.tolist()[0] == ["M", 0.455, 0.514]
    assert rows[1, :2].tolist() == ["I", 0.3]
    assert math.isnan(rows[1, 2])


@pytest.mark.parametrize("body", [b"", b"\n \n"])
def test_json_lines_without_records_are_refused(schema, body):
    assert rejected(decode_jsonlines, body, schema).message == "JSON Lines body has no records"


def test_predictions_encode_as_json_lines_one_line_each():
    assert encode_jsonlines([1.5, 2.0]) == b'{"prediction":1.5}\n{"prediction":2.0}\n'
    assert encode_jsonlines(["a\nb", 3]) == b'{"prediction":"a\\nb"}\n{"prediction":3}\n'


def test_long_answers_encode_as_in_one_piece():
    predictions = [i / 7 for i in range(2 * ENCODE_CHUNK + 5)]

    assert json.loads(encode_json(predictions)) == {"predictions": predictions}
    assert encode_csv(predictions) == "".join(f"{p!r}\n" for p in predictions).encode()
    lines = encode_jsonlines(predictions).decode().split("\n")
    assert [json.loads(line)["prediction"] for line in lines[:-1]] == predictions
    assert lines[-1] == ""


def test_the_media_types_listed_are_the_ones_served():
    # The registry lists REQUEST_TYPES and RESPONSE_TYPES as each version's content types.
    assert tuple(DECODERS) == REQUEST_TYPES
    assert tuple(ENCODERS) == RESPONSE_TYPES
    assert decoder_for("application/jsonlines; charset=utf-8") is decode_jsonlines
    assert encoder_for("application/jsonlines")[0] == "application/jsonlines"


# --- the CSV fast path: pandas' C parser, column-wise, identical to the per-cell reading ---

NAMES = ("sex", "length", "weight")
# Cells text_number reads (numbers, empty when missing) or any text without quotes, spaces or
# commas (categories), and no boolean pandas would read as 0 or 1.
PLAIN_NUMBER = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.from_regex(
        r"[+-]?([0-9]{1,25}\.?[0-9]{0,25}|\.[0-9]{1,25})([eE][+-]?[0-9]{1,2})?", fullmatch=True
    ),
    st.just(""),
)
PLAIN_TEXT = st.text(
    alphabet=[c for c in string.printable if c.isprintable() and c not in ' ",'], max_size=6
).filter(lambda text: text not in (*NAMES, "rings") and not re.search("true|false", text, re.I))
# What the fast path must leave to the per-cell path, or read exactly as it does.
NASTY_CELLS = [
    " ", "  1.5", "2.5 ", "\t3", "inf", "-inf", "Infinity", "nan", "NaN", "-nan", "1_000",
    "0x10", "\uff11", "\u0663", "1e999", "-1e400", "1e-400", "+.5", "5.", ".", "-", "e5", "1e",
    "1,5", '"1.5"', '"a,b"', "1.5\r", "a\rb", "N/A", "NULL", "#N/A", "None", "true", "False",
    "TRUE", "é", "x y", "\x00",
]  # fmt: skip
NASTY_NUMBER = st.one_of(PLAIN_NUMBER, st.sampled_from(NASTY_CELLS))
NASTY_TEXT = st.one_of(PLAIN_TEXT, st.sampled_from(NASTY_CELLS))


@st.composite
def csv_bodies(draw, nasty: bool) -> bytes:
    """CSV bodies of the fixture schema: header or not, \\n or \\r\\n, empty lines anywhere."""
    number, text = (NASTY_NUMBER, NASTY_TEXT) if nasty else (PLAIN_NUMBER, PLAIN_TEXT)
    header = draw(st.none() | st.permutations([*NAMES, "rings"]) | st.permutations(NAMES).map(list))
    columns = header or list(NAMES)
    cells = {"sex": text, "length": number, "weight": number, "rings": PLAIN_NUMBER}
    rows = draw(
        st.lists(st.fixed_dictionaries({name: cells[name] for name in columns}), min_size=1)
    )
    lines = [[row[name] for name in columns] for row in rows]
    if nasty and draw(st.booleans()):  # ragged rows
        for line in draw(st.lists(st.sampled_from(lines), max_size=3)):
            line.append("0") if draw(st.booleans()) else line.pop()
    end = draw(st.sampled_from(["\n", "\r\n", "\r"] if nasty else ["\n", "\r\n"]))
    text_lines = [",".join(line) for line in ([header] if header else []) + lines]
    for _ in range(draw(st.integers(0, 3))):
        text_lines.insert(draw(st.integers(0, len(text_lines))), "")
    last = draw(st.sampled_from([end, ""]))
    return (end.join(text_lines) + last).encode()


def read(decode, body: bytes, schema) -> tuple:
    """A decoder's reading of a body: each cell's repr (type, value, sign of zero), or its error."""
    try:
        rows = decode(body, schema)
    except RequestError as error:
        return ("error", error.status, error.message)
    return ("rows", [[repr(cell) for cell in row] for row in rows[:].tolist()])


@given(csv_bodies(nasty=False))
def test_the_fast_path_reads_every_plain_body_as_the_per_cell_path(schema, body):
    rows = _csv_columns(body, schema)

    assert rows is not None
    assert read(lambda *_: rows, body, schema) == read(_csv_cells, body, schema)


@given(csv_bodies(nasty=True))
def test_nasty_bodies_give_the_per_cell_rows_or_error_whichever_path(schema, body):
    expected = read(_csv_cells, body, schema)
    rows = _csv_columns(body, schema)

    if rows is not None:
        assert read(lambda *_: rows, body, schema) == expected
    with patch.object(codecs, "FAST_CSV_BYTES", 0):
        assert read(decode_csv, body, schema) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"M,1,2\nF,3\nI,4,5,6\n", "row 2 has 2 fields, expected 3"),
        (b"M,1,2,9\nF,3\n", "row 1 has 4 fields, expected 3"),
        (b"M,1,2\nF,3\n", "row 2 has 2 fields, expected 3"),
        (b"M,1,2\n   \nF,3,4\n", "row 2 has 1 fields, expected 3"),
        # pandas takes the long first row's first field for an index: the counts balance
        (b"sex,length,weight\n,0.0,,0\n,0.0\n", "row 1 has 4 fields, expected 3 as in the header"),
        (b"M,1,2\rF,3,4\r", "malformed CSV: new-line character seen in unquoted field"),
        (b"M,nan,2\n", "row 1, column length: 'nan' is not a finite number"),
        (b"M,1,inf\n", "row 1, column weight: 'inf' is not a finite number"),
        (b"M,1e999,2\n", "row 1, column length: '1e999' is not a finite number"),
        (b"M,1_000,2\n", "row 1, column length: '1_000' is not a finite number"),
        # pandas would read these as 1 and 0
        (b"M,true,1\nF,true,2\n", "row 1, column length: 'true' is not a finite number"),
        (b"M,,1\nF,FALSE,2\n", "row 2, column length: 'FALSE' is not a finite number"),
        (b"M,N/A,2\n", "row 1, column length: 'N/A' is not a finite number"),
        ("M,\uff11,2\n".encode(), "row 1, column length: '\uff11' is not a finite number"),
        (b"sex,length,colour\nM,1,2\n", "unknown column(s): colour"),
        (b"sex,length,weight\n", "CSV body has a header but no rows"),
        (b"M," + b"1" * 131_073 + b",2\n", "malformed CSV: field larger than field limit"),
    ],
)
def test_what_the_fast_path_is_unsure_of_the_per_cell_path_words(schema, body, message):
    with patch.object(codecs, "FAST_CSV_BYTES", 0):
        error = rejected(decode_csv, body, schema)

    assert _csv_columns(body, schema) is None
    assert error.message == rejected(_csv_cells, body, schema).message
    assert message in error.message


@pytest.mark.parametrize("window", [4, 7, 16, 1 << 22])
def test_line_widths_are_checked_across_scan_windows(schema, window):
    lines = [b"M,1,2", b"", b"F,3.5,4", b"I,,6", b"M,7,8"]
    with patch.object(codecs, "LINE_SCAN_BYTES", window):
        assert _one_width(b"\n".join(lines) + b"\n", 2)
        assert _one_width(b"\r\n".join(lines), 2)
        assert not _one_width(b"\n".join([*lines, b"F,1"]) + b"\n", 2)
        assert not _one_width(b"\n".join([b"F,1,2,3", *lines]), 2)


@pytest.mark.parametrize(
    "body",
    [
        b'M,"0.5",1\n',  # quotes
        b"M, 0.5,1\n",  # spaces around a number, which text_number reads
        b"x y,0.5,1\n",  # a category with a space
        "é,0.5,1\n".encode(),  # non-ASCII text
    ],
)
def test_plain_but_unusual_cells_take_the_per_cell_path_and_read_the_same(schema, body):
    with patch.object(codecs, "FAST_CSV_BYTES", 0):
        decoded = decode_csv(body, schema)

    assert _csv_columns(body, schema) is None
    assert read(lambda *_: decoded, body, schema) == read(_csv_cells, body, schema)


def test_a_large_body_is_read_column_wise_and_a_small_one_cell_by_cell(schema):
    row = b"M,0.455,0.514\n"
    large = row * (FAST_CSV_BYTES // len(row) + 1)

    assert isinstance(decode_csv(large, schema), ColumnRows)
    assert isinstance(decode_csv(row * 10, schema), np.ndarray)
    assert decode_csv(large, schema)[:].tolist() == _csv_cells(large, schema).tolist()
