"""The Dockerfile cannot be built here, so check what can be: sources, programs, pins, layout."""

from __future__ import annotations

import os
import re
import shlex

import pytest

from tests.container.conftest import MODEL_CODE

DOCKERFILE = MODEL_CODE / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    pairs = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def arguments(keyword: str) -> list[str]:
    return [rest for instruction, rest in instructions() if instruction == keyword]


def environment() -> dict[str, str]:
    """Every ENV key=value, in order."""
    values = {}
    for rest in arguments("ENV"):
        for pair in shlex.split(rest):
            key, _, value = pair.partition("=")
            values[key] = value
    return values


def test_the_base_image_is_a_slim_python_pinned_to_an_exact_version():
    (base,) = arguments("FROM")

    assert re.fullmatch(r"python:3\.\d+\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", base)


def test_there_is_no_entrypoint_so_sagemaker_can_pass_train_or_serve():
    assert arguments("ENTRYPOINT") == []
    assert arguments("CMD") == []


def test_every_copied_source_exists():
    sources = [shlex.split(rest)[:-1] for rest in arguments("COPY")]

    assert sources
    for group in sources:
        for source in group:
            assert (MODEL_CODE / source).exists(), source


def test_the_programs_are_on_path_and_the_package_on_pythonpath():
    env = environment()

    assert env["PATH"].split(":")[0] == "/opt/program/bin"
    assert env["PYTHONPATH"] == "/opt/program/src"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert "bin/ /opt/program/bin/" in arguments("COPY")
    assert "src/ /opt/program/src/" in arguments("COPY")


@pytest.mark.parametrize("program", ["train", "serve"])
def test_the_programs_sagemaker_names_exist_and_are_executable(program):
    path = MODEL_CODE / "bin" / program

    assert path.is_file()
    assert os.access(path, os.X_OK)
    assert path.read_text().startswith("#!/usr/bin/env python3\n")


def test_the_installed_requirements_are_pinned():
    assert any("-r /opt/program/requirements.txt" in rest for rest in arguments("RUN"))
    for line in (MODEL_CODE / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.]*", line), line


def test_tests_stay_out_of_the_image():
    ignored = (MODEL_CODE / ".dockerignore").read_text().splitlines()

    assert "tests/" in ignored
    assert "**/__pycache__" in ignored
