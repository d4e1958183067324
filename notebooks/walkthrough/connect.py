"""Connect to the deployed system: the stacks' outputs into a `Config`, whichever the target.

AWS: the pipeline stack named by `STACK_NAME`, or by the `.project.env` the prep stack's notebook
instance writes at every start. Locally: `walkthrough.local`, which reads `connection.json`.
Only the connection differs: the cells then make the same AWS calls on both targets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pandas as pd

if TYPE_CHECKING:
    from .aws import CodePipelineControl

# The model-code tree on the notebook instance (notebooks/ and data/ in it) or this project.
REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_ENV = ".project.env"
AWS_POLL_SECONDS = 10.0  # an AWS run takes tens of minutes


@dataclass
class Config:
    """Everything the cells need about the deployed system, whichever the target."""

    target: str
    session: boto3.Session
    project: str
    pipeline_name: str
    data_bucket: str
    model_bucket: str
    dev_predict_url: str
    prod_predict_url: str
    api_key: str
    work_dir: Path
    control: CodePipelineControl
    # The last cell: on AWS the stacks' tear-down (if confirmed), locally stopping the cloud
    # this notebook started. How a target is shut down is the one thing AWS has no API for.
    clean_up: Callable[[bool], None]

    @property
    def region(self) -> str:
        """The session's region."""
        return str(self.session.region_name)

    @property
    def dev_endpoint(self) -> str:
        """The dev endpoint's name (`<project>-dev`, docs/design.md)."""
        return f"{self.project}-dev"

    @property
    def prod_endpoint(self) -> str:
        """The prod endpoint's name (`<project>-prod`)."""
        return f"{self.project}-prod"

    @property
    def batch_input_uri(self) -> str:
        """Where a file of records is scored with prod's model (the stack's BatchInputUri)."""
        return f"s3://{self.data_bucket}/batch/input/"

    @property
    def prod_ground_truth_url(self) -> str:
        """POST /prod/ground-truth, beside prod's predict route."""
        return self.prod_predict_url.removesuffix("/predict") + "/ground-truth"

    def summary(self) -> pd.DataFrame:
        """What the notebook is connected to (the API key shortened)."""
        rows = {
            "target": self.target,
            "region": self.region,
            "project": self.project,
            "pipeline": self.pipeline_name,
            "data bucket": self.data_bucket,
            "model bucket": self.model_bucket,
            "dev endpoint": self.dev_endpoint,
            "prod endpoint": self.prod_endpoint,
            "POST /predict (prod)": self.prod_predict_url,
            "API key": self.api_key[:6] + "…",
        }
        return pd.DataFrame({"value": rows})


def config_from_stacks(
    target: str,
    session: boto3.Session,
    stacks: tuple[Mapping[str, str], Mapping[str, str]],
    predict_urls: tuple[str, str],
    api_key: str,
    work_dir: Path,
    poll_seconds: float,
    clean_up: Callable[[bool], None],
) -> Config:
    """A `Config` from the prep and pipeline stacks' outputs, the API's URLs and key; the
    pipeline is followed through CodePipeline's API every `poll_seconds`."""
    from .aws import CodePipelineControl

    prep, pipeline = stacks
    return Config(
        target=target,
        session=session,
        project=prep["ProjectName"],
        pipeline_name=pipeline["PipelineName"],
        data_bucket=pipeline["DataBucketName"],
        model_bucket=pipeline["ModelBucketName"],
        dev_predict_url=predict_urls[0],
        prod_predict_url=predict_urls[1],
        api_key=api_key,
        work_dir=work_dir,
        control=CodePipelineControl(session, pipeline["PipelineName"], poll_seconds),
        clean_up=clean_up,
    )


def find_project_env(start: Path = REPO_ROOT) -> Path | None:
    """The `.project.env` in `start` or a folder above it (the instance's SageMaker folder)."""
    for folder in (start, *start.parents):
        if (folder / PROJECT_ENV).is_file():
            return folder / PROJECT_ENV
    return None


def read_project_env(path: Path) -> dict[str, str]:
    """`NAME=value` lines, as the notebook instance's lifecycle configuration writes them."""
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{path}, line {number}: expected NAME=value, got {line!r}")
        values[name.strip()] = value.strip()
    return values


def stack_outputs(session: boto3.Session, name: str) -> tuple[dict[str, str], dict[str, str]]:
    """A stack's outputs and parameters."""
    stack = session.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    return outputs, parameters


def connect_aws(session: boto3.Session, stack_name: str) -> Config:
    """Read the pipeline stack's outputs (and the prep stack's, and the API key's value)."""
    from .aws import destroy_stacks

    outputs, parameters = stack_outputs(session, stack_name)
    prep, _ = stack_outputs(session, parameters["PrepStackName"])
    api_key = session.client("apigateway").get_api_key(
        apiKey=outputs["ApiKeyId"], includeValue=True
    )["value"]
    return config_from_stacks(
        "aws",
        session,
        (prep, outputs),
        (outputs["DevPredictUrl"], outputs["ProdPredictUrl"]),
        api_key,
        REPO_ROOT / "build" / "notebook",
        AWS_POLL_SECONDS,
        partial(destroy_stacks, prep["ProjectName"]),
    )


def aws_session_and_stack(stack_name: str, project_env: Path | None) -> tuple[boto3.Session, str]:
    """The session and pipeline stack: `STACK_NAME` first, else the instance's `.project.env`."""
    if stack_name:
        # Credentials and region come from the usual chain (AWS_PROFILE, AWS_REGION, a role).
        return boto3.Session(), stack_name
    if project_env is None:
        raise ValueError(
            "TARGET = 'aws' needs STACK_NAME, the name of the pipeline stack (on the project's "
            f"notebook instance it is read from {PROJECT_ENV}, which was not found)"
        )
    values = read_project_env(project_env)
    missing = [n for n in ("PIPELINE_STACK_NAME", "AWS_REGION") if not values.get(n)]
    if missing:
        raise ValueError(f"{project_env} has no {' or '.join(missing)}: restart the instance")
    return boto3.Session(region_name=values["AWS_REGION"]), values["PIPELINE_STACK_NAME"]


def connect(target: str = "local", stack_name: str = "") -> Config:
    """The notebook's one entry point: `"local"` (default) or `"aws"` with the pipeline stack."""
    if target == "aws":
        return connect_aws(*aws_session_and_stack(stack_name, find_project_env()))
    if target != "local":
        raise ValueError(f"TARGET must be 'local' or 'aws', not {target!r}")
    try:
        from .local import connect_local
    except ImportError as error:
        if not (error.name or "").startswith("localcloud"):
            raise
        where = find_project_env()
        hint = f" ({where} says this is the project's notebook instance)" if where else ""
        raise RuntimeError(
            f"TARGET = 'local' needs the local cloud, which is not here{hint}: set TARGET = 'aws'"
        ) from error
    return connect_local()
