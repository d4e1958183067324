"""Prod's rollout and fleet, measured on a local cloud of the bench's own.

A retrain of the good model through prod's canary, then a model that answers 0.3 s late (its
serve wraps the predictor), which the canary's latency alarm rolls back; each under two clients
calling POST /prod/predict without pause, counting the requests that failed. Then throughput
at 1 and 2 instances (wrk, autoscaling off), one record and 100 records per request.

The cloud runs in this process, as the end-to-end tests' does: a pipeline run of other model
code than model-code/ (the slow model) is a `run_pipeline(model_code=...)` away, where the
background cloud of `localcloud up` only ever builds model-code/.
"""

from __future__ import annotations

import json
import shutil
import time
from functools import partial
from pathlib import Path
from typing import Any

import boto3

from bench.cloud import predict_call
from bench.load import Load, wrk
from bench.usage_limits import lift_usage_limits
from localcloud.background import free_port
from localcloud.cloud import LOCAL_PIPELINE_PARAMETERS, CloudSettings, LocalCloud
from localcloud.codepipeline.runner import RunReport
from localcloud.samples import sample_records
from localcloud.stacks import REPO_ROOT

PROD = "abalone-prod"
SLOW_SECONDS = 0.3
INSTANCE_COUNTS = (1, 2)
BATCH_RECORDS = 100  # the most POST /predict takes in one request (PredictProxy's default)

# Prepended to the copied bin/serve's main: every prediction takes SLOW_SECONDS longer (each
# worker imports bin/serve, so each is slowed).
_SLOW_PREDICTOR = """import time
from tabular_container.predictor import Predictor
_predict = Predictor.predict
def _slow_predict(self, rows):
    time.sleep({seconds})
    return _predict(self, rows)
Predictor.predict = _slow_predict
"""
_SERVE_MAIN = "from tabular_container.serving import main  # noqa: E402\n"


def model_code_copy(destination: Path) -> tuple[Path, Path]:
    """A copy of model-code/ to change, and its bin/serve."""
    copy = destination / "model-code"
    shutil.copytree(REPO_ROOT / "model-code", copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy, copy / "bin" / "serve"


def slow_model_code(destination: Path, seconds: float = SLOW_SECONDS) -> Path:
    """Model code that trains and passes the gate as model-code/ does, but answers `seconds`
    late: a model artifact of the caller's, no fault switch in the product."""
    copy, serve = model_code_copy(destination)
    text = serve.read_text()
    if _SERVE_MAIN not in text:
        raise RuntimeError(f"{serve} no longer imports the serving main as expected")
    serve.write_text(
        text.replace(_SERVE_MAIN, _SERVE_MAIN + _SLOW_PREDICTOR.format(seconds=seconds))
    )
    return copy


def _approve(stage: str, action: str, configuration: dict[str, Any]) -> tuple[bool, str]:
    return True, "approved by the bench"


def _rollout(
    cloud: LocalCloud, body: bytes, model_code: Path | None = None, concurrency: int = 2
) -> dict[str, Any]:
    """One pipeline run under steady load: how DeployProd ended and what the clients saw."""
    sagemaker = boto3.client("sagemaker")
    before = sagemaker.describe_endpoint(EndpointName=PROD)
    with Load(predict_call(_prod_predict_url(cloud), cloud.api_key, body), concurrency) as load:
        report = cloud.run_pipeline(_approve, model_code=model_code)
    after = sagemaker.describe_endpoint(EndpointName=PROD)
    seconds = [outcome.seconds for outcome in load.outcomes]
    return {
        "status": report.status,
        "message": report.message,
        "deploy_prod_seconds": _stage_seconds(report, "DeployProd"),
        "run_seconds": round(report.seconds, 1),
        "prod_moved": after["EndpointConfigName"] != before["EndpointConfigName"],
        "failure_reason": after.get("FailureReason", ""),
        "instances_after": after["ProductionVariants"][0]["CurrentInstanceCount"],
        "answers_slower_than_slow_seconds": sum(1 for s in seconds if s >= SLOW_SECONDS),
        **load.summary(),
    }


def _stage_seconds(report: RunReport, name: str) -> float | None:
    stage = report.stage(name)
    return round(stage.seconds, 1) if stage is not None else None


def _prod_predict_url(cloud: LocalCloud) -> str:
    return f"{cloud.gateway_url}/prod/predict"


def set_instance_count(sagemaker: Any, count: int, timeout: float = 300.0) -> float:
    """Prod at `count` instances (UpdateEndpointWeightsAndCapacities); seconds it took."""
    started = time.monotonic()
    (variant,) = sagemaker.describe_endpoint(EndpointName=PROD)["ProductionVariants"]
    if variant["CurrentInstanceCount"] != count:
        sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=PROD,
            DesiredWeightsAndCapacities=[
                {"VariantName": variant["VariantName"], "DesiredInstanceCount": count}
            ],
        )
    while time.monotonic() - started < timeout:
        endpoint = sagemaker.describe_endpoint(EndpointName=PROD)
        (variant,) = endpoint["ProductionVariants"]
        if endpoint["EndpointStatus"] == "InService" and variant["CurrentInstanceCount"] == count:
            return round(time.monotonic() - started, 1)
        time.sleep(0.5)
    raise RuntimeError(f"{PROD} did not reach {count} instance(s) in {timeout:.0f} s")


def _stop_autoscaling(sagemaker: Any) -> None:
    """Deregister prod's scalable target, so that the counts measured stay as set."""
    (variant,) = sagemaker.describe_endpoint(EndpointName=PROD)["ProductionVariants"]
    autoscaling = boto3.client("application-autoscaling")
    resource = f"endpoint/{PROD}/variant/{variant['VariantName']}"
    registered = autoscaling.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[resource]
    )["ScalableTargets"]
    for target in registered:
        autoscaling.deregister_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=resource,
            ScalableDimension=target["ScalableDimension"],
        )


def throughput_by_instances(
    cloud: LocalCloud, bodies: dict[str, bytes], seconds: float, connections: int = 8
) -> list[dict[str, Any]]:
    """wrk through POST /prod/predict at each of INSTANCE_COUNTS, for each body."""
    sagemaker = boto3.client("sagemaker")
    _stop_autoscaling(sagemaker)
    url = _prod_predict_url(cloud)
    key = ("x-api-key", cloud.api_key)
    rows = []
    for count in INSTANCE_COUNTS:
        settle = set_instance_count(sagemaker, count)
        for name, body in bodies.items():
            load = partial(wrk, url, body, "application/json", connections=connections, header=key)
            load(seconds=2)  # warms the path: the PredictProxy's further workers start
            rows.append(
                {
                    "instances": count,
                    "request": name,
                    "settle_seconds": settle,
                    **load(seconds=seconds),
                }
            )
    return rows


def measure(work: Path, dist: Path, wrk_seconds: float) -> dict[str, Any]:
    """The rollout figures: a good canary, a slow model rolled back, throughput per count."""
    settings = CloudSettings(
        state_dir=work / "rollout-cloud",
        gateway_port=free_port(),
        dist=dist,
        # The load repeats one record: an hourly monitoring run that lands in the bench would
        # see drift and start a retraining run beside the ones measured.
        pipeline_parameters={"RetrainOnDrift": "false"},
    )
    cloud = LocalCloud(settings)
    cloud.start(progress=lambda message: None)
    try:
        first = cloud.run_pipeline(_approve)
        if first.status != "Succeeded":
            raise RuntimeError(f"the rollout bench's first run failed: {first.message}")
        assert cloud.pipeline_stack is not None
        lift_usage_limits(boto3.client("apigateway"), cloud.pipeline_stack.outputs)
        cloud.gateway.refresh()
        records, _ = sample_records(cloud.state_dir / "data", BATCH_RECORDS)
        one = json.dumps({"instances": records[:1]}).encode()
        print("bench: rollout: a retrain through prod's canary, under load", flush=True)
        good = _rollout(cloud, one)
        print("bench: rollout: a slow model, rolled back by the latency alarm", flush=True)
        slow = _rollout(cloud, one, model_code=slow_model_code(work / "slow"))
        print("bench: rollout: throughput at 1 and 2 instances", flush=True)
        bodies = {
            "1 record": one,
            f"{BATCH_RECORDS} records": json.dumps({"instances": records}).encode(),
        }
        throughput = throughput_by_instances(cloud, bodies, wrk_seconds)
    finally:
        cloud.stop()
    return {
        "parameters": {
            name: LOCAL_PIPELINE_PARAMETERS[name]
            for name in ("ProdBakeSeconds", "ProdTerminationWaitSeconds")
        },
        "good_canary": good,
        "slow_model": slow,
        "throughput_by_instances": throughput,
    }


def section(figures: dict[str, Any]) -> list[str]:
    """The README's rollout paragraph and tables."""
    parameters = figures["parameters"]
    lines = [
        f"**Rollout** (a cloud of the bench's own; ProdBakeSeconds "
        f"{parameters['ProdBakeSeconds']} s, ProdTerminationWaitSeconds "
        f"{parameters['ProdTerminationWaitSeconds']} s; two clients calling `/prod/predict` "
        f"without pause through the whole pipeline run; the slow model answers "
        f"{SLOW_SECONDS:g} s late and passes the gate):",
        "",
        "| case | run | DeployProd | requests | failed | answers ≥ "
        f"{SLOW_SECONDS:g} s | prod after |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, case in (("good model, canary", "good_canary"), ("slow model", "slow_model")):
        run = figures[case]
        after = "new model" if run["prod_moved"] else "old model"
        lines.append(
            f"| {name} | {run['status']} | {run['deploy_prod_seconds']:g} s | "
            f"{run['requests']:,} | {run['errors']} | {run['answers_slower_than_slow_seconds']:,}"
            f" | {after}, {run['instances_after']} instances |"
        )
    rows = figures["throughput_by_instances"]
    ratios = _ratios(rows)
    lines += [
        "",
        f"The slow model's run failed with: {figures['slow_model']['message']}",
        "",
        "Throughput by prod's instance count (wrk, 8 connections through `/prod/predict`, "
        "autoscaling off):",
        "",
        "| instances | request | req/s | p50 / p99 ms | errors |",
        "|---|---|---|---|---|",
        *(
            f"| {row['instances']} | {row['request']} | {row['rps']:,.0f} | "
            f"{row['p50_ms']:.1f} / {row['p99_ms']:.1f} | {row['errors']} |"
            for row in rows
        ),
        "",
        f"Two instances against one: {', '.join(f'{n} {r:.2f}x' for n, r in ratios.items())}."
        + (WHY_NOT_TWICE if min(ratios.values()) < 1.5 else ""),
    ]
    return lines


WHY_NOT_TWICE = (
    " Not 2x on this machine, and it cannot be: each instance is a `serve` with 2 workers, so "
    "one instance already has a worker per core, and the gateway, the PredictProxy's Lambda "
    "workers, the runtime's router and wrk share the same two cores. A second instance adds "
    "processes, not CPU; on SageMaker each instance is a machine of its own."
)


def _ratios(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Requests/s at the highest instance count ÷ at the lowest, per request kind."""
    by_count = {(row["instances"], row["request"]): row["rps"] for row in rows}
    low, high = INSTANCE_COUNTS[0], INSTANCE_COUNTS[-1]
    names = dict.fromkeys(row["request"] for row in rows)
    return {name: by_count[(high, name)] / by_count[(low, name)] for name in names}
