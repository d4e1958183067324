"""What the walkthrough notebook's cells share, so each cell stays short and reads like the story.

One code path for both targets: `connect("local")` reads `.localcloud/connection.json` (and
starts a local cloud when none is up), `connect("aws", STACK_NAME)` reads the pipeline stack's
outputs. Everything after that goes through the returned `Config`: boto3 clients, bucket and
endpoint names, the API's URLs and key. Tested in tests/notebook/.
"""

from __future__ import annotations

import html
import json
import logging
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
from IPython.display import Markdown, display

REPO_ROOT = Path(__file__).resolve().parent.parent
# A kernel that Jupyter starts runs in notebooks/; the local cloud's client lives at the root.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from localcloud.cfn import load_template  # noqa: E402
from localcloud.client import STATE_DIR, ControlClient, read_connection  # noqa: E402
from localcloud.stacks import (  # noqa: E402
    DATA_TRIGGER_KEY,
    LAMBDA_FOLDERS,
    SPLITS,
    upload_split_bodies,
)

# The SDK 2.x line is pinned on purpose (requirements/dev.in): its deprecation banner is noise, and
# so is its note, on import, that no SDK-defaults file exists (the notebook passes its own config).
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
logging.getLogger("sagemaker.config").setLevel(logging.WARNING)

PIPELINE_TEMPLATE = REPO_ROOT / "templates" / "02-pipeline.yml"
ARCHITECTURE_PNG = REPO_ROOT / "notebooks" / "architecture.png"
DEFAULT_DIST = REPO_ROOT / "dist" / "lambdas"
DEFAULT_PORT = 3000  # the API port `python -m localcloud start` uses
SEXES = {"M": "male", "F": "female", "I": "infant"}
# Passed to sagemaker.Session: telemetry off, and no SDK-defaults files are looked up.
SAGEMAKER_SDK_CONFIG = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}
STAGE_NOTES = {
    "Source": "Takes the model code (CodeCommit) and the training-data manifest (S3); a push "
    "or a new pipeline/data.zip starts a run.",
    "Build": "CodeBuild runs the container's unit tests, builds the image and pushes it to ECR, "
    "tagged with the commit.",
    "Train": "A SageMaker training job runs the image's `train` on the train and validation "
    "splits; a status Lambda follows it to the end.",
    "DeployDev": "Creates or updates the dev endpoint with the new model and waits for InService.",
    "Evaluate": "Sends the held-out test split through the dev endpoint: fails when the MSE is "
    "over the threshold or worse than prod's.",
    "Approve": "Waits for a person (SNS notification with the evaluation summary).",
    "DeployProd": "Updates the prod endpoint in place with the approved model.",
}


# --- the pipeline as the template defines it --------------------------------------------------
@dataclass(frozen=True)
class StageInfo:
    """One stage of the pipeline template: its name and (action, what runs it) in order."""

    name: str
    actions: tuple[tuple[str, str], ...]


def _runner_of(action: Mapping[str, Any]) -> str:
    provider = action["ActionTypeId"]["Provider"]
    if provider == "Lambda":
        function = action["Configuration"]["FunctionName"]
        logical_id = function["Ref"] if isinstance(function, dict) else str(function)
        return f"λ {logical_id.removesuffix('Function')}"
    return "manual approval" if provider == "Manual" else provider


def pipeline_stages(template_path: Path = PIPELINE_TEMPLATE) -> list[StageInfo]:
    """The stages and actions of the template's pipeline, in order (the single source of truth)."""
    resources = load_template(template_path)["Resources"]
    (pipeline,) = (r for r in resources.values() if r["Type"] == "AWS::CodePipeline::Pipeline")
    return [
        StageInfo(
            stage["Name"],
            tuple((action["Name"], _runner_of(action)) for action in stage["Actions"]),
        )
        for stage in pipeline["Properties"]["Stages"]
    ]


def stage_table(stages: list[StageInfo] | None = None) -> Markdown:
    """Stage, actions and what the stage does, as a table under the picture."""
    lines = ["| stage | actions | what it does |", "|---|---|---|"]
    for stage in stages or pipeline_stages():
        actions = "<br>".join(f"{name} ({runner})" for name, runner in stage.actions)
        lines.append(f"| **{stage.name}** | {actions} | {STAGE_NOTES.get(stage.name, '')} |")
    return Markdown("\n".join(lines))


# --- connecting: the local cloud or an AWS account ---------------------------------------------
@dataclass
class LocalCloudHandle:
    """Where the local cloud keeps its state, and whether this notebook started it."""

    state_dir: Path
    dist: Path
    connection: dict[str, Any]
    started_here: bool


# Local clouds this kernel started, by pid: running the connect cell again must not forget them.
_STARTED_HERE: set[int] = set()


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
    local: LocalCloudHandle | None = None

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


def local_settings() -> tuple[Path, Path, int]:
    """State folder, Lambda zips folder and API port of the local cloud; tests override them."""
    return (
        Path(os.environ.get("LOCALCLOUD_STATE_DIR") or STATE_DIR),
        Path(os.environ.get("LOCALCLOUD_DIST") or DEFAULT_DIST),
        int(os.environ.get("LOCALCLOUD_PORT") or DEFAULT_PORT),
    )


def _localcloud(state_dir: Path, dist: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m localcloud ...` on the given state folder, as a user would type it."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "localcloud",
            "--state-dir",
            str(state_dir),
            "--dist",
            str(dist),
            *args,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def ensure_lambda_zips(dist: Path) -> None:
    """Build the Lambda zips (`make package`) when some are missing: the local cloud needs them."""
    if all((dist / f"{folder}.zip").is_file() for folder in LAMBDA_FOLDERS):
        return
    print(f"Packaging the Lambda functions into {dist} (what `make package` does) ...")
    packager = REPO_ROOT / "scripts" / "package_lambdas.py"
    subprocess.run(
        [sys.executable, str(packager), "--out", str(dist)], capture_output=True, check=True
    )


def connect_local() -> Config:
    """Use the running local cloud, or start one (and remember to stop it at the end)."""
    state_dir, dist, port = local_settings()
    connection = read_connection(state_dir)
    if connection is None:
        ensure_lambda_zips(dist)
        print(f"No local cloud is running: starting one on port {port} ...")
        result = _localcloud(state_dir, dist, "start", "--port", str(port))
        connection = read_connection(state_dir)
        if result.returncode != 0 or connection is None:
            raise RuntimeError(f"the local cloud did not start:\n{result.stderr or result.stdout}")
        _STARTED_HERE.add(connection["pid"])
        print(f"Started (pid {connection['pid']}); the last cell stops it.")
    else:
        print(f"Using the local cloud that is already running (pid {connection['pid']}).")
    # boto3 and the SageMaker SDK find the local services through AWS_ENDPOINT_URL* variables.
    os.environ.update(connection["environment"])
    session = boto3.Session(
        aws_access_key_id=connection["aws_access_key_id"],
        aws_secret_access_key=connection["aws_secret_access_key"],
        region_name=connection["region"],
    )
    outputs, prep = connection["stacks"]["pipeline"], connection["stacks"]["prep"]
    return Config(
        target="local",
        session=session,
        project=prep["ProjectName"],
        pipeline_name=outputs["PipelineName"],
        data_bucket=outputs["DataBucketName"],
        model_bucket=outputs["ModelBucketName"],
        dev_predict_url=f"{connection['api_url']}/dev/predict",
        prod_predict_url=f"{connection['api_url']}/prod/predict",
        api_key=connection["api_key"],
        work_dir=state_dir / "notebook",
        local=LocalCloudHandle(state_dir, dist, connection, connection["pid"] in _STARTED_HERE),
    )


def _stack(cloudformation: Any, name: str) -> tuple[dict[str, str], dict[str, str]]:
    """A stack's outputs and parameters."""
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    return outputs, parameters


def connect_aws(session: boto3.Session, stack_name: str) -> Config:
    """Read the pipeline stack's outputs (and the prep stack's, and the API key's value)."""
    cloudformation = session.client("cloudformation")
    outputs, parameters = _stack(cloudformation, stack_name)
    prep, _ = _stack(cloudformation, parameters["PrepStackName"])
    api_key = session.client("apigateway").get_api_key(
        apiKey=outputs["ApiKeyId"], includeValue=True
    )["value"]
    return Config(
        target="aws",
        session=session,
        project=prep["ProjectName"],
        pipeline_name=outputs["PipelineName"],
        data_bucket=outputs["DataBucketName"],
        model_bucket=outputs["ModelBucketName"],
        dev_predict_url=outputs["DevPredictUrl"],
        prod_predict_url=outputs["ProdPredictUrl"],
        api_key=api_key,
        work_dir=REPO_ROOT / "build" / "notebook",
    )


def connect(target: str = "local", stack_name: str = "") -> Config:
    """The notebook's one entry point: `"local"` (default) or `"aws"` with the pipeline stack."""
    if target == "local":
        return connect_local()
    if target == "aws":
        if not stack_name:
            raise ValueError("TARGET = 'aws' needs STACK_NAME, the name of the pipeline stack")
        # Credentials and region come from the usual chain (AWS_PROFILE, AWS_REGION, a role).
        return connect_aws(boto3.Session(), stack_name)
    raise ValueError(f"TARGET must be 'local' or 'aws', not {target!r}")


# --- data -----------------------------------------------------------------------------------------
def prepare_splits(config: Config) -> dict[str, pd.DataFrame]:
    """Split the raw data with the project's own script and load the three splits."""
    out = config.work_dir / "data"
    script = REPO_ROOT / "scripts" / "prepare_data.py"
    result = subprocess.run(
        [sys.executable, str(script), str(out)], capture_output=True, text=True, check=True
    )
    print(result.stdout.strip())
    return {name: pd.read_csv(out / name / f"{name}.csv") for name in SPLITS}


def upload_splits(config: Config, splits: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Upload the splits; replace pipeline/data.zip (which starts a run on AWS) only on change."""
    bodies = {
        name: splits[name].to_csv(index=False, lineterminator="\n").encode() for name in SPLITS
    }
    s3 = config.session.client("s3")
    manifest, changed = upload_split_bodies(s3, config.data_bucket, bodies)
    rows = [
        (
            f"{name}/{name}.csv",
            f"{len(splits[name])} rows, MD5 {manifest[f'{name}/{name}.csv']}",
            "uploaded",
        )
        for name in SPLITS
    ]
    status = "uploaded (the data changed)" if changed else "unchanged: not replaced"
    rows.append((DATA_TRIGGER_KEY, "manifest of the three files and their MD5", status))
    table = pd.DataFrame(rows, columns=["key", "content", "upload"]).set_index("key")
    table.columns.name = f"s3://{config.data_bucket}/"
    return table


# --- following the pipeline ---------------------------------------------------------------------
@dataclass(frozen=True)
class ActionProgress:
    """One row of the progress table."""

    stage: str
    action: str
    status: str
    note: str = ""
    seconds: float | None = None


@dataclass(frozen=True)
class Approval:
    """A manual approval that waits (the token is AWS's; the local cloud needs none)."""

    stage: str
    action: str
    token: str = ""


@dataclass(frozen=True)
class Progress:
    """An execution's state, the same shape for the local runner and CodePipeline."""

    pipeline: str
    execution_id: str
    status: str
    actions: tuple[ActionProgress, ...]
    approval: Approval | None = None

    @property
    def state(self) -> str:
        """The status in words, the wait for an approval included."""
        return "waiting for approval" if self.approval else self.status

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """The table as text, for consoles and text exports."""
        lines = [f"{self.pipeline} execution {self.execution_id}: {self.state}"]
        for a in self.actions:
            seconds = "" if a.seconds is None else f"{a.seconds:.1f}s"
            lines.append(f"{a.stage:<12}{a.action:<18}{a.status:<11}{seconds:>7}  {a.note[:60]}")
        printer.text("\n".join(lines))

    def _repr_html_(self) -> str:
        """The table the notebook shows and refreshes."""
        colours = {"Succeeded": "#2e7d32", "Failed": "#c62828", "InProgress": "#1565c0"}
        rows = "".join(
            f"<tr><td>{html.escape(a.stage)}</td><td>{html.escape(a.action)}</td>"
            f"<td style='color:{colours.get(a.status, '#777')}'>{html.escape(a.status)}</td>"
            f"<td>{'' if a.seconds is None else f'{a.seconds:.1f}s'}</td>"
            f"<td style='text-align:left'>{html.escape(a.note[:140])}</td></tr>"
            for a in self.actions
        )
        return (
            f"<b>{html.escape(self.pipeline)}</b> execution {html.escape(self.execution_id)}: "
            f"<b>{html.escape(self.state)}</b><table><tr><th>stage</th><th>action</th>"
            f"<th>status</th><th>time</th><th>note</th></tr>{rows}</table>"
        )


def progress_from_local(
    report: Mapping[str, Any], waiting: Mapping[str, Any] | None, stages: list[StageInfo]
) -> Progress:
    """The local runner's report; actions it has not reached yet are Pending."""
    seen = {(a["stage"], a["action"]): a for s in report.get("stages", []) for a in s["actions"]}
    rows = []
    for stage in stages:
        for action, _ in stage.actions:
            record = seen.get((stage.name, action))
            if record is None:
                rows.append(ActionProgress(stage.name, action, "Pending"))
                continue
            seconds = record["seconds"]
            if record["status"] == "InProgress":
                seconds = time.time() - record["started"]
            rows.append(
                ActionProgress(stage.name, action, record["status"], record["message"], seconds)
            )
    approval = Approval(waiting["stage"], waiting["action"]) if waiting else None
    return Progress(
        report["pipeline"], report["execution_id"], report["status"], tuple(rows), approval
    )


def progress_from_aws(
    state: Mapping[str, Any], execution: Mapping[str, Any], stages: list[StageInfo]
) -> Progress:
    """get_pipeline_state + get_pipeline_execution; stages still on an older run are Pending."""
    execution_id = execution["pipelineExecutionId"]
    by_stage = {s["stageName"]: s for s in state.get("stageStates", [])}
    rows, approval = [], None
    for stage in stages:
        stage_state = by_stage.get(stage.name, {})
        current = stage_state.get("latestExecution", {}).get("pipelineExecutionId") == execution_id
        actions = {a["actionName"]: a for a in stage_state.get("actionStates", [])}
        for action, _ in stage.actions:
            latest = actions.get(action, {}).get("latestExecution", {}) if current else {}
            status = latest.get("status", "Pending")
            note = latest.get("summary") or latest.get("errorDetails", {}).get("message", "")
            rows.append(ActionProgress(stage.name, action, status, note))
            if status == "InProgress" and latest.get("token"):
                approval = Approval(stage.name, action, latest["token"])
    return Progress(state["pipelineName"], execution_id, execution["status"], tuple(rows), approval)


def start_pipeline(config: Config) -> str:
    """Start one execution: the local runner, or CodePipeline's StartPipelineExecution."""
    if config.local is not None:
        started = ControlClient(config.local.connection).start_run()
        if "execution_id" not in started:
            raise RuntimeError(started.get("error", "the run did not start"))
        return str(started["execution_id"])
    started = config.session.client("codepipeline").start_pipeline_execution(
        name=config.pipeline_name
    )
    return str(started["pipelineExecutionId"])


def pipeline_progress(config: Config, execution_id: str, stages: list[StageInfo]) -> Progress:
    """The execution's state right now."""
    if config.local is not None:
        current = ControlClient(config.local.connection).current()
        if current["run"] is None or current["run"]["execution_id"] != execution_id:
            raise RuntimeError(f"execution {execution_id} is not the local cloud's current run")
        return progress_from_local(current["run"], current["waiting_for_approval"], stages)
    codepipeline = config.session.client("codepipeline")
    state = codepipeline.get_pipeline_state(name=config.pipeline_name)
    execution = codepipeline.get_pipeline_execution(
        pipelineName=config.pipeline_name, pipelineExecutionId=execution_id
    )["pipelineExecution"]
    return progress_from_aws(state, execution, stages)


def watch_pipeline(
    config: Config, execution_id: str, stop_at_approval: bool = False, timeout: float = 3600
) -> Progress:
    """Show a progress table that refreshes until the run ends (or waits for approval)."""
    stages = pipeline_stages()
    pause = 0.5 if config.local is not None else 10.0
    progress = pipeline_progress(config, execution_id, stages)
    handle = display(progress, display_id=True)
    deadline = time.monotonic() + timeout
    while progress.status == "InProgress" and time.monotonic() < deadline:
        if stop_at_approval and progress.approval:
            break
        time.sleep(pause)
        progress = pipeline_progress(config, execution_id, stages)
        handle.update(progress)
    if progress.status == "InProgress" and not (stop_at_approval and progress.approval):
        print(f"Still running after {timeout:.0f}s: call watch_pipeline again to keep watching.")
    return progress


def approve(config: Config, progress: Progress, comment: str) -> None:
    """Approve the waiting manual approval (what a reviewer does in the console)."""
    if progress.approval is None:
        raise RuntimeError(f"nothing waits for approval: the run is {progress.status}")
    if config.local is not None:
        answer = ControlClient(config.local.connection).answer_approval(True, comment)
        if "error" in answer:
            raise RuntimeError(answer["error"])
    else:
        config.session.client("codepipeline").put_approval_result(
            pipelineName=config.pipeline_name,
            stageName=progress.approval.stage,
            actionName=progress.approval.action,
            result={"summary": comment, "status": "Approved"},
            token=progress.approval.token,
        )
    print(f"{progress.approval.stage}/{progress.approval.action}: approved ({comment}).")


# --- the evaluation and the API ---------------------------------------------------------------
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


# --- clean up ---------------------------------------------------------------------------------
def clean_up(config: Config, confirm_destroy: bool = False) -> None:
    """Local: stop the cloud if this notebook started it. AWS: `make destroy`, only if confirmed."""
    if config.local is not None:
        handle = config.local
        if not handle.started_here:
            print("The local cloud was running before this notebook: left up (`make down`).")
            return
        result = _localcloud(handle.state_dir, handle.dist, "down")
        print((result.stdout + result.stderr).strip())
        if result.returncode != 0:
            raise RuntimeError("`python -m localcloud down` failed")
        return
    command = ["scripts/aws_stacks.py", "destroy", "--project", config.project, "--yes"]
    if not confirm_destroy:
        print(
            "Nothing deleted. Set CONFIRM_DESTROY = True and run this cell again, or run "
            f"`python {shlex.join(command)}` from the repository: it deletes the endpoints, "
            f"models, bucket contents and both stacks of {config.project}."
        )
        return
    subprocess.run([sys.executable, *command], cwd=REPO_ROOT, check=True)
