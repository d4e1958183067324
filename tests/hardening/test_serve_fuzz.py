"""Fuzzing `/invocations` of the real `serve`, short (`make bench` throws many more bodies)."""

from __future__ import annotations

from pathlib import Path

import requests

from bench.fuzz import fuzz, poster
from localcloud.samples import sample_records
from tests.container.conftest import Server


def test_malformed_bodies_get_4xx_json_from_serve_never_5xx_trace_or_hang(
    server: Server, abalone_splits: Path
) -> None:
    # GIVEN malformed, oversized, wrongly typed and wrongly encoded bodies (fixed seed),
    # starting from a valid test record
    record = sample_records(abalone_splits, 1)[0][0]
    with requests.Session() as session:
        # WHEN each is posted THEN each answer is in time, < 500, and {"error"} if an error
        outcome = fuzz(
            poster(session, f"{server.url}/invocations"),
            record,
            error_key="error",
            examples=200,
            derandomize=True,
        )
    assert outcome["requests"] >= 200
