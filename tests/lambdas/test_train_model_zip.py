"""The TrainModel zip carries the container's hyperparameter table, generated at packaging time,
and refuses with it on its own; the template documents hyperparameters that table accepts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tabular_container.hyperparameters import HyperparameterError, parse_hyperparameters
from tests.lambdas.conftest import REPO_ROOT
from tests.templates.conftest import load_template

CONTAINER_SOURCE = REPO_ROOT / "model-code" / "src"


def test_the_zip_ships_the_containers_modules_byte_for_byte(lambda_zips: Path):
    # GIVEN the packaged TrainModel zip
    with zipfile.ZipFile(lambda_zips / "train_model.zip") as archive:
        shipped = {
            name: archive.read(name)
            for name in archive.namelist()
            if name.startswith("tabular_container/")
        }
    # THEN its table is the container's, as the container has it now (no copy to keep up)
    assert "tabular_container/hyperparameters.py" in shipped
    for name, data in shipped.items():
        assert data == (CONTAINER_SOURCE / name).read_bytes(), name


def test_the_zip_alone_refuses_a_misspelled_hyperparameter_in_the_containers_words(
    lambda_zips: Path,
):
    # GIVEN only the zip on sys.path (no model-code, no pandas: Lambda's runtime has boto3 only)
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); import app\n"
        "try:\n"
        "    app.parse_hyperparameters({'hyperparameters': json.loads(sys.argv[2])})\n"
        "except app.ConfigurationError as error:\n"
        "    print(error)\n"
    )
    env = {"PATH": os.environ["PATH"], "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
    typo = {"target": "rings", "n_componets": "500"}
    # WHEN TrainModel checks a typo
    result = subprocess.run(
        [sys.executable, "-I", "-c", code, str(lambda_zips / "train_model.zip"), json.dumps(typo)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    # THEN it refuses with the message `train` would write to output/failure
    assert result.returncode == 0, result.stderr
    with pytest.raises(HyperparameterError) as caught:
        parse_hyperparameters(typo)
    assert result.stdout.strip() == str(caught.value)
    assert result.stdout.startswith("unknown hyperparameter 'n_componets'; known: ")


def test_the_templates_hyperparameter_examples_are_accepted_by_the_container():
    # GIVEN the Hyperparameters parameter's documented examples and default
    parameter = load_template("pipeline")["Parameters"]["Hyperparameters"]
    text = parameter["Description"] + parameter["ConstraintDescription"]
    examples = [json.loads(found) for found in re.findall(r"\{[^{}]*\}", text)]
    examples.append(json.loads(parameter["Default"]))
    # THEN the container takes every one, and they show real keys
    assert any(examples), "the template documents no example hyperparameter"
    for example in examples:
        parse_hyperparameters(example)
