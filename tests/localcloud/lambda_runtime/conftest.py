"""Deployment zips of small handlers, and a runtime that is shut down after each test module."""

from __future__ import annotations

import io
import textwrap
import zipfile
from collections.abc import Callable, Iterator

import pytest

from localcloud.constants import REGION
from localcloud.lambda_runtime import LambdaRuntime

AMBIENT = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}


def build_zip(files: dict[str, str]) -> bytes:
    """A deployment package holding `files` (name -> source, dedented)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source in files.items():
            archive.writestr(name, textwrap.dedent(source))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaRuntime]:
    """A runtime with loopback endpoints and dummy credentials as its ambient environment."""
    runtime = LambdaRuntime(tmp_path_factory.mktemp("state"), AMBIENT, max_workers_per_function=4)
    yield runtime
    runtime.shutdown()


@pytest.fixture
def zip_of() -> Callable[[str], bytes]:
    """A zip with one module `app.py` of the given source."""
    return lambda source: build_zip({"app.py": source})


@pytest.fixture
def zip_files() -> Callable[[dict[str, str]], bytes]:
    """A zip of several files."""
    return build_zip
