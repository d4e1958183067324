"""Settings come from SageMaker's variables, with defaults, and bad ones are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tabular_container import serving
from tabular_container.environment import ExecutionParameters, ServingEnvironment, available_cpus
from tabular_container.errors import UserError
from tabular_container.paths import SageMakerPaths

MIB = 1024 * 1024


def test_defaults_follow_sagemaker():
    env = ServingEnvironment.from_environ({})

    assert env.paths.base == Path("/opt/ml")
    assert (env.host, env.port, env.workers) == ("0.0.0.0", 8080, available_cpus())  # noqa: S104
    assert env.batch is False
    assert env.execution == ExecutionParameters(available_cpus(), "MULTI_RECORD", 6)
    assert env.max_body_bytes == 6 * MIB


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
        ("SAGEMAKER_BATCH", "yes", "^SAGEMAKER_BATCH='yes' must be true or false$"),
        (
            "SAGEMAKER_MAX_PAYLOAD_IN_MB",
            "0",
            r"^SAGEMAKER_MAX_PAYLOAD_IN_MB='0' asks for chunked streaming, which this server does "
            r"not take \(it reads whole request bodies\); set 1 to 100$",
        ),
        (
            "SAGEMAKER_MAX_PAYLOAD_IN_MB",
            "101",
            r"^SAGEMAKER_MAX_PAYLOAD_IN_MB='101' must be between 1 and 100$",
        ),
        (
            "SAGEMAKER_MAX_PAYLOAD_IN_MB",
            "6.5",
            r"^SAGEMAKER_MAX_PAYLOAD_IN_MB='6.5' is not a whole number$",
        ),
        (
            "SAGEMAKER_BATCH_STRATEGY",
            "MultiRecord",
            r"^SAGEMAKER_BATCH_STRATEGY='MultiRecord' is not one of MULTI_RECORD, SINGLE_RECORD$",
        ),
        (
            "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS",
            "0",
            r"^SAGEMAKER_MAX_CONCURRENT_TRANSFORMS='0' must be between 1 and 100$",
        ),
    ],
)
def test_bad_settings_are_named(name, value, message):
    with pytest.raises(UserError, match=message):
        ServingEnvironment.from_environ({name: value})


@pytest.mark.parametrize("flag", ["true", "TRUE", " True "])
def test_in_batch_mode_the_payload_variable_sets_the_body_limit(flag):
    env = ServingEnvironment.from_environ(
        {
            "SAGEMAKER_BATCH": flag,
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": "100",
            "SAGEMAKER_BATCH_STRATEGY": "single_record",
        }
    )

    assert env.batch is True
    assert env.max_body_bytes == 100 * MIB
    assert env.execution.to_json() == {
        "MaxConcurrentTransforms": available_cpus(),
        "BatchStrategy": "SINGLE_RECORD",
        "MaxPayloadInMB": 100,
    }


@pytest.mark.parametrize("flag", ["", "false", "FALSE"])
def test_outside_batch_mode_the_limit_stays_six_mib(flag):
    env = ServingEnvironment.from_environ(
        {"SAGEMAKER_BATCH": flag, "SAGEMAKER_MAX_PAYLOAD_IN_MB": "50"}
    )

    assert env.batch is False
    assert env.max_body_bytes == 6 * MIB
    assert env.execution.max_payload_in_mb == 6


def test_max_concurrent_transforms_sets_the_workers_at_most_one_a_cpu():
    many = ServingEnvironment.from_environ({"SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "64"})
    one = ServingEnvironment.from_environ({"SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "1"})

    assert many.workers == min(64, available_cpus())
    assert many.execution.max_concurrent_transforms == 64
    assert (one.workers, one.execution.max_concurrent_transforms) == (1, 1)


def test_explicit_workers_win_over_max_concurrent_transforms():
    env = ServingEnvironment.from_environ(
        {"SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "8", "SAGEMAKER_MODEL_SERVER_WORKERS": "3"}
    )

    assert env.workers == 3
    assert env.execution.max_concurrent_transforms == 8


def test_without_max_concurrent_transforms_the_workers_are_reported():
    env = ServingEnvironment.from_environ({"SAGEMAKER_MODEL_SERVER_WORKERS": "5"})

    assert env.execution.max_concurrent_transforms == 5


def test_serve_stops_before_start_up_on_a_bad_batch_variable(monkeypatch, capsys):
    monkeypatch.setenv("SAGEMAKER_MAX_PAYLOAD_IN_MB", "0")

    assert serving.main() == 1
    err = capsys.readouterr().err
    assert err.startswith("serve: SAGEMAKER_MAX_PAYLOAD_IN_MB='0' asks for chunked streaming")
    assert err.count("\n") == 1


def test_the_contract_paths_sit_under_the_base_directory(tmp_path):
    paths = SageMakerPaths.from_environ({"SAGEMAKER_BASE_DIR": str(tmp_path)})

    assert paths.hyperparameters_file == tmp_path / "input/config/hyperparameters.json"
    assert paths.input_data_config_file == tmp_path / "input/config/inputdataconfig.json"
    assert paths.channel_dir("train") == tmp_path / "input/data/train"
    assert paths.model_file == tmp_path / "model/model.joblib"
    assert paths.metadata_file == tmp_path / "model/metadata.json"
    assert paths.failure_file == tmp_path / "output/failure"
