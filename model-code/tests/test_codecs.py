"""Request bodies become model rows, or a 4xx naming the problem; never another exception."""

from __future__ import annotations

import json
import math
from http import HTTPStatus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tabular_container.codecs import (
    RequestError,
    decode_csv,
    decode_json,
    decoder_for,
    encode_csv,
    encode_json,
    encoder_for,
)

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


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_a_request_error(schema, body):
    for decode in (decode_csv, decode_json):
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
    assert "text/csv or application/json" in error.message


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
    assert "application/json or text/csv" in error.message
