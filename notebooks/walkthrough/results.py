"""What the model answers: the evaluation and its gate, JSON answers, the SDK's settings, curl."""

from __future__ import annotations

import json
import logging
import os
import shlex
from collections.abc import Mapping
from typing import Any

from IPython.display import Markdown, display

from .connect import Config

# The SDK 2.x line is pinned on purpose (requirements/dev.in): its deprecation banner is noise, and
# so is its note, on import, that no SDK-defaults file exists (the notebook passes its own config).
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
logging.getLogger("sagemaker.config").setLevel(logging.WARNING)

# Passed to sagemaker.Session: telemetry off, and no SDK-defaults files are looked up.
SAGEMAKER_SDK_CONFIG = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}


def read_evaluation(config: Config) -> dict[str, Any]:
    """evaluation.json of the model now on the dev endpoint (written next to its model.tar.gz)."""
    sagemaker = config.session.client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName=config.dev_endpoint)
    variants = sagemaker.describe_endpoint_config(
        EndpointConfigName=endpoint["EndpointConfigName"]
    )["ProductionVariants"]
    model = sagemaker.describe_model(ModelName=variants[0]["ModelName"])
    bucket, _, key = model["PrimaryContainer"]["ModelDataUrl"].removeprefix("s3://").partition("/")
    key = key.rsplit("/", 1)[0] + "/evaluation.json"
    body = config.session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return json.loads(body)


def show_evaluation(evaluation: Mapping[str, Any]) -> None:
    """The metrics and the gate's decision in words, then the whole document."""
    metrics = evaluation["metrics"]
    prod = evaluation["prod_mse"]
    lines = [
        "| metric | value |",
        "|---|---|",
        *(f"| {name.upper()} | {value:.4f} |" for name, value in metrics.items()),
        "",
        f"**Quality gate: {'passed' if evaluation['passed'] else 'failed'}.** "
        f"MSE {metrics['mse']:.4f} against the threshold {evaluation['threshold']:g}; "
        + (
            f"prod's MSE is {prod:.4f} (tolerance {evaluation['tolerance']:.0%})."
            if prod is not None
            else "no model in prod yet to compare with."
        ),
        "",
        f"`{evaluation['reason']}` ({evaluation['records']} test records, endpoint "
        f"`{evaluation['endpoint']}`)",
    ]
    display(Markdown("\n".join(lines)))
    show_json(evaluation)


def show_json(document: Mapping[str, Any]) -> None:
    """A JSON document: a collapsible tree in JupyterLab, indented text anywhere else."""
    display(
        {"application/json": dict(document), "text/plain": json.dumps(document, indent=2)},
        raw=True,
    )


def curl_command(url: str, api_key: str, records: list[dict[str, Any]]) -> str:
    """The same request as a curl command line a user can paste into a shell."""
    body = json.dumps({"instances": records})
    return (
        f"curl -s -X POST {shlex.quote(url)} \\\n"
        f"     -H {shlex.quote('x-api-key: ' + api_key)} \\\n"
        f"     -H 'Content-Type: application/json' \\\n"
        f"     -d {shlex.quote(body)}"
    )
