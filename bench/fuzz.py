"""Throw malformed, oversized, wrongly typed and wrongly encoded requests at a predict API.

The bodies start from a valid record and break it every way a client can: wrong types, missing
and unknown columns, huge numbers, deep nesting, lone surrogates, other encodings, truncation,
random bytes, bodies over the size limits, and mismatched Content-Type and Accept headers. Every
answer must come within the timeout, be under 500, carry no stack trace, and, when it is an
error, be JSON with a message. `make test` runs a short derandomized pass; `make bench` a long one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REQUEST_TIMEOUT_SECONDS = 10.0
# Past every limit on the way: /invocations (6 MB), the proxy's InvokeEndpoint payload (6 MB)
# and API Gateway's (10 MB).
OVERSIZED = (b'{"instances": [' + b'{"sex": "M"},' * 600_000 + b"{}]}", b"0," * 5_500_000)
CONTENT_TYPES = (
    "application/json",
    "text/csv",
    "text/csv; charset=utf-8",
    "application/json; charset=latin-1",
    "TEXT/CSV",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
)
ACCEPTS = (
    "application/json",
    "text/csv",
    "*/*",
    "text/*",
    "text/html",
    "application/json;q=0",
    "text/csv;q=abc, application/json;q=0.5",
    "image/png, */*;q=0",
)
Send = Callable[[bytes, dict[str, str]], requests.Response]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.sampled_from(["", "M", "F", "I", "1e999", "-0", "NaN", "\ud800", "0x1A", " 3 "]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)


def _json_text(document: object) -> str:
    """JSON as Python writes it (NaN and Infinity included, as lenient clients send them)."""
    return json.dumps(document)


@st.composite
def _instances(draw: st.DrawFn, record: dict[str, Any]) -> list[Any]:
    """Records near the valid one: values of any type, columns dropped, unknown columns added."""
    instances: list[Any] = []
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        if draw(st.booleans()):
            instances.append(draw(json_values))
            continue
        instance = dict(record)
        for name in draw(st.lists(st.sampled_from(sorted(record)), max_size=3)):
            instance[name] = draw(json_values)
        for name in draw(st.lists(st.sampled_from(sorted(record)), max_size=2)):
            instance.pop(name, None)
        instance.update(draw(st.dictionaries(st.text(max_size=8), json_values, max_size=2)))
        instances.append(instance)
    return instances


@st.composite
def _typed_instances(draw: st.DrawFn, record: dict[str, Any]) -> list[dict[str, Any]]:
    """Records with every column and right-typed but arbitrary values: they reach the model."""
    return [
        {
            name: draw(st.floats() if isinstance(value, float) else st.text(max_size=4))
            for name, value in record.items()
        }
        for _ in range(draw(st.integers(min_value=1, max_value=3)))
    ]


def _csv_rows(record: dict[str, Any]) -> st.SearchStrategy[str]:
    cell = st.one_of(st.text(max_size=6), st.sampled_from([*map(str, record.values()), '"', ""]))
    row = st.lists(cell, min_size=0, max_size=len(record) + 2).map(",".join)
    header = st.just(",".join(record)) | st.just("")
    return st.tuples(header, st.lists(row, max_size=4)).map(
        lambda parts: "\n".join([parts[0], *parts[1]])
    )


def bodies(record: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """Request bodies around a valid record, most of them wrong in some way."""
    valid = _json_text({"instances": [record]}).encode()
    documents = st.one_of(
        st.builds(lambda items: {"instances": items}, _instances(record)),
        st.builds(lambda items: {"instances": items}, _typed_instances(record)),
        json_values,
        st.builds(lambda value: {"instances": value}, json_values),
    )
    texts = st.one_of(documents.map(_json_text), _csv_rows(record), st.text())
    encodings = st.sampled_from(["utf-8", "utf-16", "latin-1", "utf-8-sig"])
    return st.one_of(
        st.tuples(texts, encodings).map(lambda pair: pair[0].encode(pair[1], "replace")),
        texts.map(lambda text: text.encode("utf-8", "surrogatepass")),
        st.integers(min_value=0, max_value=len(valid)).map(lambda cut: valid[:cut]),
        st.binary(max_size=200),
        st.integers(min_value=1, max_value=200_000).map(lambda depth: b"[" * depth),
        st.integers(min_value=4_000, max_value=20_000).map(
            lambda digits: b'{"instances": [{"length": ' + b"9" * digits + b"}]}"
        ),
        st.sampled_from(OVERSIZED),
    )


def headers() -> st.SearchStrategy[dict[str, str]]:
    """Content-Type and Accept headers, right, wrong or missing."""
    right = st.sampled_from(CONTENT_TYPES[:2])  # half the bodies get a type the API takes
    content_type = st.one_of(right, right, st.sampled_from(CONTENT_TYPES), st.text(max_size=20))
    return st.fixed_dictionaries(
        {"Content-Type": content_type}, optional={"Accept": st.sampled_from(ACCEPTS)}
    ).map(
        lambda chosen: {
            name: value
            for name, value in chosen.items()
            # What an HTTP client can send: printable ASCII without whitespace around it.
            if value.isascii() and value.isprintable() and value == value.strip()
        }
    )


def check_answer(response: requests.Response, error_key: str) -> None:
    """Under 500, no stack trace, and an error is JSON naming the problem under `error_key`."""
    text = response.content.decode("utf-8", "replace")
    assert response.status_code < 500, f"{response.status_code}: {text[:500]}"
    assert "Traceback" not in text, text[:2000]
    if response.status_code >= 400:
        document = response.json()
        assert isinstance(document, dict), text[:500]
        message = document.get(error_key)
        assert isinstance(message, str), text[:500]
        assert message.strip(), text[:500]


def fuzz(
    send: Send,
    record: dict[str, Any],
    *,
    error_key: str,
    examples: int,
    derandomize: bool = False,
) -> dict[str, Any]:
    """Run `examples` generated requests through `send`; raises on the first bad answer.

    Returns how many were sent and the statuses seen. A request that does not answer within
    its timeout fails as a hang.
    """
    statuses: Counter[int] = Counter()

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=derandomize,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(body=bodies(record), chosen=headers())
    def check(body: bytes, chosen: dict[str, str]) -> None:
        try:
            response = send(body, chosen)
        except requests.Timeout:
            raise AssertionError(
                f"no answer within {REQUEST_TIMEOUT_SECONDS:g} s (a hang)"
            ) from None
        statuses[response.status_code] += 1
        check_answer(response, error_key)

    check()
    return {
        "requests": sum(statuses.values()),
        "statuses": {str(code): n for code, n in sorted(statuses.items())},
    }


def poster(session: requests.Session, url: str, extra: dict[str, str] | None = None) -> Send:
    """A `send` that POSTs to url with the given headers plus `extra` (an API key)."""

    def send(body: bytes, chosen: dict[str, str]) -> requests.Response:
        return session.post(
            url, data=body, headers={**chosen, **(extra or {})}, timeout=REQUEST_TIMEOUT_SECONDS
        )

    return send
