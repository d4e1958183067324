"""Settings come from SageMaker's variables, with defaults, and bad ones are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tabular_container.environment import ServingEnvironment, available_cpus
from tabular_container.errors import UserError
from tabular_container.paths import SageMakerPaths


def test_defaults_follow_sagemaker():
    env = ServingEnvironment.from_environ({})

    assert env.paths.base == Path("/opt/ml")
    assert (env.host, env.port, env.workers) == ("0.0.0.0", 8080, available_cpus())  # noqa: S104


def test_variables_override_the_defaults(tmp_path):
    env = ServingEnvironment.from_environ(
        {
            "SAGEMAKER_BASE_DIR": str(tmp_path),
            "SAGEMAKER_BIND_TO_PORT": "9000",
            "SAGEMAKER_MODEL_SERVER_WORKERS": "3",
            "MODEL_SERVER_HOST": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
        }
    )

    assert env.paths.model_dir == tmp_path / "model"
    assert (env.host, env.port, env.workers, env.log_level) == ("127.0.0.1", 9000, 3, "warning")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SAGEMAKER_BIND_TO_PORT", "http", "SAGEMAKER_BIND_TO_PORT='http' is not a whole number"),
        ("SAGEMAKER_BIND_TO_PORT", "70000", "must be between 1 and 65535"),
        ("SAGEMAKER_MODEL_SERVER_WORKERS", "0", "SAGEMAKER_MODEL_SERVER_WORKERS='0' must be"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL='loud' is not one of"),
    ],
)
def test_bad_settings_are_named(name, value, message):
    with pytest.raises(UserError, match=message):
        ServingEnvironment.from_environ({name: value})


def test_the_contract_paths_sit_under_the_base_directory(tmp_path):
    paths = SageMakerPaths.from_environ({"SAGEMAKER_BASE_DIR": str(tmp_path)})

    assert paths.hyperparameters_file == tmp_path / "input/config/hyperparameters.json"
    assert paths.input_data_config_file == tmp_path / "input/config/inputdataconfig.json"
    assert paths.channel_dir("train") == tmp_path / "input/data/train"
    assert paths.model_file == tmp_path / "model/model.joblib"
    assert paths.metadata_file == tmp_path / "model/metadata.json"
    assert paths.failure_file == tmp_path / "output/failure"
