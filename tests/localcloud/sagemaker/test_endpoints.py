"""Models, endpoint configs, endpoints through boto3: lifecycle, invocation, updates, failures."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import tarfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud.sagemaker import read_endpoint_log
from tests.localcloud.sagemaker.conftest import (
    BUCKET,
    IMAGE_URI,
    REGISTRY,
    ROWS,
    Cloud,
    container_processes,
    csv_body,
    endpoint_dir,
    error_of,
    invoke,
    start_endpoint,
    unique,
    wait_for,
)

ARN_PREFIX = "arn:aws:sagemaker:us-east-1:123456789012"


@pytest.fixture(scope="module")
def broken_model_url(cloud: Cloud) -> str:
    """A model.tar.gz without the model in it: the real serve cannot start from it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = b"not a model\n"
        info = tarfile.TarInfo("README.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    key = "models/broken/output/model.tar.gz"
    cloud.s3.put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue())
    return f"s3://{BUCKET}/{key}"


# --- lifecycle ---------------------------------------------------------------------------------
def test_model_config_and_endpoint_are_described_and_listed(
    cloud: Cloud, model_name: str, model_data_url: str, endpoint: str
) -> None:
    sm = cloud.sagemaker
    model = sm.describe_model(ModelName=model_name)
    assert model["ModelArn"] == f"{ARN_PREFIX}:model/{model_name}"
    assert model["PrimaryContainer"] == {
        "Image": IMAGE_URI,
        "ModelDataUrl": model_data_url,
        "Mode": "SingleModel",  # the defaults SageMaker shows for members left unset
        "Environment": {},
    }

    described = sm.describe_endpoint(EndpointName=endpoint)
    config = sm.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    assert config["ProductionVariants"][0]["ModelName"] == model_name
    assert described["EndpointStatus"] == "InService"
    assert "FailureReason" not in described
    variant = described["ProductionVariants"][0]
    assert variant["VariantName"] == "AllTraffic"
    assert variant["DeployedImages"][0]["SpecifiedImage"] == IMAGE_URI

    assert endpoint in [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]]
    assert model_name in [m["ModelName"] for m in sm.list_models()["Models"]]
    assert config["EndpointConfigName"] in [
        c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]
    ]
    assert sm.list_endpoints(StatusEquals="InService", NameContains=endpoint)["Endpoints"]


def test_invoke_csv_and_json_give_the_same_predictions(
    cloud: Cloud, endpoint: str, rows: list[dict[str, Any]]
) -> None:
    instances = json.dumps({"instances": rows})

    from_json, response = invoke(cloud, endpoint, instances, "application/json")
    from_csv, _ = invoke(cloud, endpoint, csv_body(rows, header=False), "text/csv")
    from_csv_header, _ = invoke(cloud, endpoint, csv_body(rows, header=True), "text/csv")
    as_csv, csv_response = invoke(cloud, endpoint, instances, "application/json", Accept="text/csv")

    predictions = json.loads(from_json)["predictions"]
    assert len(predictions) == ROWS
    assert all(1 <= p <= 30 for p in predictions)
    assert json.loads(from_csv)["predictions"] == predictions
    assert json.loads(from_csv_header)["predictions"] == predictions
    assert [float(v) for v in as_csv.split()] == pytest.approx(predictions)
    assert response["ContentType"].startswith("application/json")
    assert csv_response["ContentType"].startswith("text/csv")
    assert response["InvokedProductionVariant"] == "AllTraffic"


def test_container_4xx_is_a_model_error_with_the_original_answer(
    cloud: Cloud, endpoint: str
) -> None:
    with pytest.raises(cloud.runtime.exceptions.ModelError) as excinfo:
        invoke(cloud, endpoint, json.dumps({"no_instances": []}), "application/json")

    code, message = error_of(excinfo)
    response = excinfo.value.response
    assert code == "ModelError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert 400 <= response["OriginalStatusCode"] < 500
    assert response["OriginalMessage"]
    assert message.startswith(
        f"Received client error ({response['OriginalStatusCode']}) from primary with message "
    )
    assert response["LogStreamArn"].endswith(f"/aws/sagemaker/Endpoints/{endpoint}")


# --- errors ------------------------------------------------------------------------------------
def test_invoking_an_unknown_endpoint_is_a_validation_error(cloud: Cloud) -> None:
    with pytest.raises(ClientError) as excinfo:
        invoke(cloud, "no-such-endpoint", "1", "text/csv")

    assert error_of(excinfo) == (
        "ValidationError",
        "Endpoint no-such-endpoint of account 123456789012 not found.",
    )


@pytest.mark.parametrize(
    ("action", "params", "message"),
    [
        (
            "describe_model",
            {"ModelName": "no-such-model"},
            f'Could not find model "{ARN_PREFIX}:model/no-such-model".',
        ),
        (
            "delete_model",
            {"ModelName": "no-such-model"},
            f'Could not find model "{ARN_PREFIX}:model/no-such-model".',
        ),
        (
            "describe_endpoint_config",
            {"EndpointConfigName": "no-such-config"},
            f'Could not find endpoint configuration "{ARN_PREFIX}:endpoint-config/no-such-config".',
        ),
        (
            "delete_endpoint_config",
            {"EndpointConfigName": "no-such-config"},
            f'Could not find endpoint configuration "{ARN_PREFIX}:endpoint-config/no-such-config".',
        ),
        (
            "create_endpoint",
            {"EndpointName": "new-endpoint", "EndpointConfigName": "no-such-config"},
            f'Could not find endpoint configuration "{ARN_PREFIX}:endpoint-config/no-such-config".',
        ),
        (
            "describe_endpoint",
            {"EndpointName": "no-such-endpoint"},
            'Could not find endpoint "no-such-endpoint".',
        ),
        (
            "delete_endpoint",
            {"EndpointName": "no-such-endpoint"},
            'Could not find endpoint "no-such-endpoint".',
        ),
        (
            "create_endpoint_config",
            {
                "EndpointConfigName": "new-config",
                "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "no-such-model"}],
            },
            f'Could not find model "{ARN_PREFIX}:model/no-such-model".',
        ),
    ],
)
def test_unknown_resources_are_validation_exceptions(
    cloud: Cloud, action: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ClientError) as excinfo:
        getattr(cloud.sagemaker, action)(**params)

    assert error_of(excinfo) == ("ValidationException", message)


def test_duplicate_names_are_rejected_as_sagemaker_does(
    cloud: Cloud, model_name: str, model_data_url: str, endpoint: str
) -> None:
    config = cloud.sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    with pytest.raises(ClientError) as model:
        cloud.create_model(model_name, model_data_url)
    with pytest.raises(ClientError) as endpoint_config:
        cloud.create_endpoint_config(config, model_name)
    with pytest.raises(ClientError) as duplicate_endpoint:
        cloud.sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)

    assert error_of(model) == (
        "ValidationException",
        f'Cannot create already existing model "{ARN_PREFIX}:model/{model_name}".',
    )
    assert error_of(endpoint_config) == (
        "ValidationException",
        f'Cannot create already existing endpoint configuration "{ARN_PREFIX}:endpoint-config/'
        f'{config}".',
    )
    assert error_of(duplicate_endpoint) == (
        "ValidationException",
        f'Cannot create already existing endpoint "{ARN_PREFIX}:endpoint/{endpoint}".',
    )


def test_create_model_needs_a_built_image_and_existing_model_data(
    cloud: Cloud, model_data_url: str
) -> None:
    unbuilt = f"{REGISTRY}/abalone:never-built"
    with pytest.raises(ClientError) as no_image:
        cloud.sagemaker.create_model(
            ModelName=unique("no-image"),
            PrimaryContainer={"Image": unbuilt, "ModelDataUrl": model_data_url},
            ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        )
    with pytest.raises(ClientError) as no_data:
        cloud.create_model(unique("no-data"), f"s3://{BUCKET}/models/none/model.tar.gz")

    code, message = error_of(no_image)
    assert code == "ValidationException"
    assert message.startswith(f"Requested image {unbuilt} not found")
    assert error_of(no_data) == (
        "ValidationException",
        f"Could not find model data at s3://{BUCKET}/models/none/model.tar.gz.",
    )


# --- failures ----------------------------------------------------------------------------------
def test_serve_that_cannot_start_fails_the_endpoint_with_its_log(
    cloud: Cloud, broken_model_url: str
) -> None:
    # GIVEN a model.tar.gz without the model
    model = unique("broken")
    cloud.create_model(model, broken_model_url)

    # WHEN an endpoint is created on it
    endpoint, _ = start_endpoint(cloud, model)
    described = cloud.wait_endpoint_settled(endpoint)

    # THEN it is Failed, saying why, with the end of the serve log
    reason = described["FailureReason"]
    assert described["EndpointStatus"] == "Failed"
    assert reason.startswith("The primary container for production variant AllTraffic exited")
    assert "Log tail:" in reason
    assert len(reason) <= 1024
    assert read_endpoint_log(cloud.state_dir, endpoint)
    with pytest.raises(ClientError) as excinfo:
        invoke(cloud, endpoint, "1", "text/csv")
    code, message = error_of(excinfo)
    assert code == "ValidationError"
    assert message.startswith(
        f"Endpoint {endpoint} of account 123456789012 is not in service (status Failed)"
    )


def test_update_under_load_fails_no_request_and_switches_to_the_new_model(
    cloud: Cloud, model_name: str, model_data_url: str, rows: list[dict[str, Any]]
) -> None:
    # GIVEN an endpoint serving variant Blue, and a config for a new model as variant Green
    endpoint, _ = start_endpoint(cloud, model_name, variant="Blue")
    assert cloud.wait_endpoint_settled(endpoint)["EndpointStatus"] == "InService"
    green_model, green_config = unique("green-model"), unique("green-config")
    cloud.create_model(
        green_model, model_data_url, Environment={"SAGEMAKER_MODEL_SERVER_WORKERS": "1"}
    )
    cloud.create_endpoint_config(green_config, green_model, variant="Green")
    blue_processes = container_processes(endpoint_dir(cloud, endpoint) / "0001")

    # ... and a client calling it without pause
    seen: Counter[str] = Counter()
    failures: list[str] = []
    stop = threading.Event()
    body = csv_body(rows[:1], header=False)

    def call_in_a_loop() -> None:
        while not stop.is_set():
            try:
                _, response = invoke(cloud, endpoint, body, "text/csv")
                seen[response["InvokedProductionVariant"]] += 1
            except Exception as error:  # every failure is the test's finding
                failures.append(repr(error))

    caller = threading.Thread(target=call_in_a_loop)
    caller.start()
    try:
        wait_for(lambda: seen["Blue"] > 0, timeout=10, interval=0.01)

        # WHEN the endpoint is updated
        cloud.sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=green_config)
        updating = cloud.sagemaker.describe_endpoint(EndpointName=endpoint)
        with pytest.raises(ClientError) as second_update:
            cloud.sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=green_config)
        described = cloud.wait_endpoint_settled(endpoint)
        wait_for(lambda: seen["Green"] > 10, timeout=10, interval=0.01)
    finally:
        stop.set()
        caller.join()

    # THEN no request failed, Blue served until Green took over, and Blue's process is gone
    assert not failures, f"{len(failures)} failed requests, e.g. {failures[:2]}"
    assert updating["EndpointStatus"] == "Updating"
    assert updating["PendingDeploymentSummary"]["EndpointConfigName"] == green_config
    assert error_of(second_update) == (
        "ValidationException",
        f'Cannot update in-progress endpoint "{ARN_PREFIX}:endpoint/{endpoint}".',
    )
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == green_config
    assert described["ProductionVariants"][0]["VariantName"] == "Green"
    assert seen["Blue"] > 0
    assert blue_processes
    wait_for(lambda: not (set(blue_processes) & set(container_processes(cloud.state_dir))), 5)
    green = container_processes(endpoint_dir(cloud, endpoint) / "0002")
    assert {env["SAGEMAKER_MODEL_SERVER_WORKERS"] for env in green.values()} == {"1"}


def test_failed_update_rolls_back_to_the_old_model_with_the_reason(
    cloud: Cloud, model_name: str, broken_model_url: str, rows: list[dict[str, Any]]
) -> None:
    # GIVEN an endpoint in service, and a config whose model cannot start
    endpoint, config = start_endpoint(cloud, model_name)
    assert cloud.wait_endpoint_settled(endpoint)["EndpointStatus"] == "InService"
    broken_model, broken_config = unique("broken"), unique("broken-config")
    cloud.create_model(broken_model, broken_model_url)
    cloud.create_endpoint_config(broken_config, broken_model)

    # WHEN the endpoint is updated to it
    cloud.sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=broken_config)
    described = cloud.wait_endpoint_settled(endpoint)

    # THEN it is InService on the old config, the describe shows the failure, and it still serves
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == config
    assert described["FailureReason"].startswith("The primary container for production variant")
    text, _ = invoke(cloud, endpoint, csv_body(rows, header=False), "text/csv")
    assert len(json.loads(text)["predictions"]) == ROWS


def _kill_instance(cloud: Cloud, endpoint: str) -> dict[int, dict[str, str]]:
    """SIGKILL the process group leader of the endpoint's instance; its processes before."""
    processes = container_processes(endpoint_dir(cloud, endpoint))
    leader = next(pid for pid in processes if os.getpgid(pid) == pid)
    os.kill(leader, signal.SIGKILL)
    return processes


def test_killed_instance_is_replaced_while_the_endpoint_stays_in_service(
    cloud: Cloud, model_name: str, rows: list[dict[str, Any]]
) -> None:
    # GIVEN an endpoint in service
    endpoint, _ = start_endpoint(cloud, model_name)
    assert cloud.wait_endpoint_settled(endpoint)["EndpointStatus"] == "InService"

    # WHEN its instance's serve process is killed
    before = _kill_instance(cloud, endpoint)

    # THEN once the instance is out of service, a request gets ServiceUnavailable at once
    def instances(count: int) -> Callable[[], bool]:
        def check() -> bool:
            described = cloud.sagemaker.describe_endpoint(EndpointName=endpoint)
            statuses.add(described["EndpointStatus"])
            return described["ProductionVariants"][0]["CurrentInstanceCount"] == count

        return check

    statuses: set[str] = set()
    wait_for(instances(0), timeout=10, interval=0.02)
    started = time.monotonic()
    with pytest.raises(ClientError) as excinfo:
        invoke(cloud, endpoint, csv_body(rows, header=False), "text/csv")
    assert time.monotonic() - started < 2
    code, message = error_of(excinfo)
    assert (code, excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ServiceUnavailable",
        503,
    )
    assert "is being replaced" in message

    # AND a new instance takes over within seconds, the endpoint InService all along
    wait_for(instances(1), timeout=60)
    assert statuses == {"InService"}
    text, _ = invoke(cloud, endpoint, csv_body(rows, header=False), "text/csv")
    assert len(json.loads(text)["predictions"]) == ROWS
    after = container_processes(endpoint_dir(cloud, endpoint))
    assert after and not set(after) & set(before)


def test_instance_that_cannot_start_again_fails_the_endpoint_with_the_reason(
    cloud: Cloud, model_name: str
) -> None:
    # GIVEN an endpoint in service whose model files have gone from its instance's disk
    endpoint, _ = start_endpoint(cloud, model_name)
    assert cloud.wait_endpoint_settled(endpoint)["EndpointStatus"] == "InService"
    for path in (endpoint_dir(cloud, endpoint) / "0001" / "model").iterdir():
        shutil.rmtree(path) if path.is_dir() else path.unlink()

    # WHEN its serve process is killed, so every replacement fails to load the model
    _kill_instance(cloud, endpoint)

    # THEN after the back-off the endpoint is Failed, saying why, and invocations say so
    described = wait_for(
        lambda: (
            (d := cloud.sagemaker.describe_endpoint(EndpointName=endpoint))["EndpointStatus"]
            == "Failed"
            and d
        ),
        timeout=60,
    )
    assert "exited unexpectedly with code -9" in described["FailureReason"]
    assert "It could not be replaced" in described["FailureReason"]
    with pytest.raises(ClientError) as excinfo:
        invoke(cloud, endpoint, "1", "text/csv")
    code, message = error_of(excinfo)
    assert code == "ValidationError"
    assert "is not in service (status Failed)" in message
    wait_for(lambda: not container_processes(endpoint_dir(cloud, endpoint)), timeout=5)


def test_delete_endpoint_stops_its_process_and_frees_its_port(
    cloud: Cloud, model_name: str
) -> None:
    # GIVEN an endpoint in service
    endpoint, _ = start_endpoint(cloud, model_name)
    assert cloud.wait_endpoint_settled(endpoint)["EndpointStatus"] == "InService"
    processes = container_processes(endpoint_dir(cloud, endpoint))
    ports = {int(env["SAGEMAKER_BIND_TO_PORT"]) for env in processes.values()}

    # WHEN it is deleted
    cloud.sagemaker.delete_endpoint(EndpointName=endpoint)

    # THEN it is gone, and so are its processes and its listening port
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.describe_endpoint(EndpointName=endpoint)
    assert error_of(excinfo) == ("ValidationException", f'Could not find endpoint "{endpoint}".')
    wait_for(lambda: not container_processes(endpoint_dir(cloud, endpoint)), timeout=2)
    for port in ports:
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
            pass
