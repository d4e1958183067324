"""`python -m localcloud demo | up | start | run | approve | status | logs | monitor | env | push |
down`."""

# The commands and their output only: the background process is localcloud.daemon, the
# connection file's schema localcloud.connection (this docstring is the --help description).

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from localcloud import daemon
from localcloud.client import CONNECTION_FILE, REPO_ROOT, STATE_DIR, aws_client, read_connection
from localcloud.constants import LOCAL_SOURCE, LOCAL_SOURCES
from localcloud.recovery import RESTART_NOTE, find_crash, forget_crash, last_crash, recover
from localcloud.routes import local_urls
from localcloud.run_reports import (
    in_progress_without_cloud,
    interrupted,
    latest_report,
    read_report,
)
from localcloud.samples import sample_records
from localcloud.stacks import StackError

DIST_DIR = REPO_ROOT / "dist" / "lambdas"
SAMPLE_RECORDS = 5


def settings_of(args: argparse.Namespace) -> Any:
    """The cloud settings the command line chose."""
    from localcloud.cloud import CloudSettings

    return CloudSettings(state_dir=args.state_dir, gateway_port=args.port, dist=args.dist)


# --- demo ------------------------------------------------------------------------------------
def post_predict(url: str, api_key: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """POST raw records to /predict through the local API gateway."""
    request = urllib.request.Request(  # noqa: S310 - loopback gateway URL
        url,
        data=json.dumps({"instances": records}).encode(),
        headers={"Content-Type": "application/json", "x-api-key": api_key},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


def demo(args: argparse.Namespace) -> int:
    """Whole flow in this process: cloud up, pipeline, predictions, summary, everything down.

    The run is started, followed and approved through CodePipeline's API, as `run` does it.
    """
    from localcloud.cloud import LocalCloud

    if read_connection(args.state_dir) is not None:
        print("A local cloud is already up (`make down` first); the demo starts its own.")
        return 1
    _recover(args.state_dir)
    cloud = LocalCloud(settings_of(args))
    started = time.monotonic()
    try:
        cloud.start()
        assert cloud.definition is not None
        pipeline = Pipeline(cloud.session.client("codepipeline"), cloud.definition.name)
        execution_id = pipeline.start()
        status = pipeline.follow(execution_id, lambda waiting: DEMO_APPROVAL)
        _print_summary(pipeline, args.state_dir, execution_id)
        if status != "Succeeded":
            return 1
        records, truths = sample_records(args.state_dir / "data", SAMPLE_RECORDS)
        url = f"{cloud.gateway_url}/prod/predict"
        answer = post_predict(url, cloud.api_key, records)
        print(f"\nPOST {url} ({answer.get('endpoint')}, model {answer.get('model')}):")
        print(f"  {'sex':<4}{'length':>8}{'shell_weight':>14}{'predicted':>11}{'true rings':>12}")
        for record, prediction, truth in zip(records, answer["predictions"], truths, strict=True):
            print(
                f"  {record['sex']:<4}{record['length']:>8.3f}{record['shell_weight']:>14.4f}"
                f"{float(prediction):>11.2f}{truth:>12}"
            )
        print(f"\nDemo finished in {time.monotonic() - started:.1f}s; stopping the local cloud.")
        return 0
    finally:
        cloud.stop()


# --- up / serve / down -----------------------------------------------------------------------
def serve(args: argparse.Namespace) -> int:
    """The background process of `up`: the cloud, until SIGTERM."""
    return daemon.serve(args.state_dir, args.dist, args.port, args.source)


def _recover(state_dir: Path) -> bool:
    """Clean up after a cloud that died, saying what was done; whether there was one."""
    crash = recover(state_dir)
    if crash is not None:
        print("\n".join(crash.lines(cleaned=True)))
    return crash is not None


def start(args: argparse.Namespace) -> dict[str, Any]:
    """Start the cloud in the background unless it is up already; return its connection."""
    connection = read_connection(args.state_dir)
    if connection is None:
        crashed = _recover(args.state_dir)
        if crashed or latest_report(args.state_dir) is not None:
            print(RESTART_NOTE)
        print(f"Starting the local cloud (log: {args.state_dir / 'cloud.log'}) ...", flush=True)
        connection = daemon.start_background(
            args.state_dir, args.dist, args.port, getattr(args, "source", LOCAL_SOURCE)
        )
        forget_crash(args.state_dir)
        print(f"The local cloud is up (pid {connection['pid']}).")
    else:
        print(f"The local cloud is already up (pid {connection['pid']}).")
    return connection


def start_command(args: argparse.Namespace) -> int:
    """`start`: the cloud in the background, and how to reach it."""
    _print_connection(start(args), args.state_dir)
    return 0


def up(args: argparse.Namespace) -> int:
    """Start the cloud in the background, run the pipeline once, print how to connect."""
    connection = start(args)
    status = run(args)
    _print_connection(connection, args.state_dir)
    return status


def _print_connection(connection: dict[str, Any], state_dir: Path) -> None:
    url = f"{connection['api_url']}/prod/predict"
    key = connection["api_key"]
    record = (
        '{"sex": "M", "length": 0.455, "diameter": 0.365, "height": 0.095, "whole_weight": 0.514,'
        ' "shucked_weight": 0.2245, "viscera_weight": 0.101, "shell_weight": 0.15}'
    )
    endpoints = connection["endpoints"]
    connection_file = state_dir / CONNECTION_FILE
    answering_for = "".join(
        f"\n              {local}  answers for  {aws}"
        for aws, local in local_urls(
            connection["stacks"]["pipeline"], connection["api_url"]
        ).items()
    )
    print(f"""
The local cloud is up (connection details: {connection_file}).
  API:        {url}   (and {connection["api_url"]}/dev/predict){answering_for}
  API key:    {key}
  AWS APIs:   {endpoints["default"]}  (every service, as AWS_ENDPOINT_URL)

Try it:
  curl -s -X POST {url} -H 'x-api-key: {key}' -H 'Content-Type: application/json' \\
       -d '{{"instances": [{record}]}}'

  python - <<'EOF'
  import json, boto3
  conn = json.load(open("{connection_file}"))
  runtime = boto3.client("sagemaker-runtime", endpoint_url=conn["endpoints"]["default"],
      region_name=conn["region"], aws_access_key_id=conn["aws_access_key_id"],
      aws_secret_access_key=conn["aws_secret_access_key"])
  body = json.dumps({{"instances": [{record}]}})
  answer = runtime.invoke_endpoint(EndpointName="abalone-prod", Body=body,
      ContentType="application/json")
  print(answer["Body"].read().decode())
  EOF

Retrain and update dev and prod in place: python -m localcloud run
Stop everything:                          make down""")


def down(args: argparse.Namespace) -> int:
    """Stop the background cloud and everything it started, or clean up after a dead one."""
    connection = read_connection(args.state_dir)
    if connection is None:
        if not _recover(args.state_dir):
            print("No local cloud is running.")
        return 0
    stopped = daemon.stop_background(args.state_dir, connection)
    print(f"Stopped the local cloud (pid {stopped.pid}).")
    if stopped.orphans:
        print(
            "Also stopped: " + "; ".join(f"{r.what} (pid {r.pid})" for r in stopped.orphans) + "."
        )
    if stopped.interrupted_run is not None:
        execution_id = stopped.interrupted_run["execution_id"]
        print(f"Pipeline run {execution_id} was in progress: recorded as interrupted.")
    return 0


# --- run / approve / status / logs -----------------------------------------------------------
DEMO_APPROVAL = (True, "approved automatically by the demo")
FINISHED = {"Succeeded", "Failed", "Stopped", "Superseded", "Cancelled"}


def _require_connection(args: argparse.Namespace) -> dict[str, Any]:
    connection = read_connection(args.state_dir)
    if connection is None:
        raise StackError("no local cloud is running: start one with `make up`")
    return connection


def env(args: argparse.Namespace) -> int:
    """Print `export` lines that point the AWS CLI, boto3 and the SDKs at the running cloud."""
    connection = _require_connection(args)
    for name, value in sorted(connection["environment"].items()):
        print(f"export {name}={shlex.quote(value)}")
    return 0


@dataclass(frozen=True)
class WaitingApproval:
    """A manual approval that waits, and the token PutApprovalResult needs."""

    stage: str
    action: str
    token: str

    @property
    def where(self) -> str:
        """`Stage/Action`."""
        return f"{self.stage}/{self.action}"


class Pipeline:
    """The cloud's pipeline through CodePipeline's own API, as the AWS CLI reaches it."""

    poll_seconds = 0.5

    def __init__(self, codepipeline: Any, name: str) -> None:
        self.codepipeline = codepipeline
        self.name = name

    @classmethod
    def of(cls, connection: dict[str, Any]) -> Pipeline:
        """The pipeline of a running cloud (the pipeline stack's PipelineName output)."""
        name = connection["stacks"]["pipeline"]["PipelineName"]
        return cls(aws_client(connection, "codepipeline"), name)

    def start(self) -> str:
        """StartPipelineExecution; the execution id."""
        return str(
            self.codepipeline.start_pipeline_execution(name=self.name)["pipelineExecutionId"]
        )

    def waiting_approval(self, execution_id: str | None = None) -> WaitingApproval | None:
        """The README's recipe: an action of GetPipelineState whose latest execution has a
        token (of `execution_id`'s stage, when given)."""
        state = self.codepipeline.get_pipeline_state(name=self.name)
        return _waiting_in(state, execution_id)

    def answer(self, waiting: WaitingApproval, approved: bool, summary: str) -> None:
        """PutApprovalResult with the waiting approval's token."""
        self.codepipeline.put_approval_result(
            pipelineName=self.name,
            stageName=waiting.stage,
            actionName=waiting.action,
            token=waiting.token,
            result={"summary": summary, "status": "Approved" if approved else "Rejected"},
        )

    def run_state(self, execution_id: str) -> tuple[dict[str, Any], WaitingApproval | None]:
        """The execution as the view shows it, and the approval it waits for, if any."""
        from localcloud.view import run_from_api

        execution = self.codepipeline.get_pipeline_execution(
            pipelineName=self.name, pipelineExecutionId=execution_id
        )["pipelineExecution"]
        state = self.codepipeline.get_pipeline_state(name=self.name)
        details = self.codepipeline.list_action_executions(
            pipelineName=self.name,
            filter={
                "latestInPipelineExecution": {
                    "pipelineExecutionId": execution_id,
                    "startTimeRange": "Latest",
                }
            },
        )["actionExecutionDetails"]
        return run_from_api(execution, state, details), _waiting_in(state, execution_id)

    def follow(
        self,
        execution_id: str,
        decide: Callable[[WaitingApproval], tuple[bool, str] | None],
    ) -> str | None:
        """Show the execution until it ends, answering each approval as `decide` says; its
        final status, or None when `decide` left an approval waiting."""
        from localcloud.view import LiveView

        view = LiveView()
        answered: set[str] = set()
        while True:
            run_state, waiting = self.run_state(execution_id)
            view(run_state)
            view.tick()
            if waiting is not None and waiting.token not in answered:
                answered.add(waiting.token)
                verdict = decide(waiting)
                if verdict is None:
                    return None
                self.answer(waiting, *verdict)
            if run_state["status"] in FINISHED:
                return str(run_state["status"])
            time.sleep(self.poll_seconds)


def _waiting_in(state: dict[str, Any], execution_id: str | None) -> WaitingApproval | None:
    for stage in state["stageStates"]:
        latest = stage.get("latestExecution", {})
        if execution_id is not None and latest.get("pipelineExecutionId") != execution_id:
            continue
        for action in stage["actionStates"]:
            token = action.get("latestExecution", {}).get("token")
            if token:
                return WaitingApproval(stage["stageName"], action["actionName"], token)
    return None


def run(args: argparse.Namespace) -> int:
    """Start a pipeline execution in the running cloud and follow it to its end or approval.

    At a terminal the approval is a y/N question. Without one nobody can answer here, so the run
    is left waiting in the cloud for `approve`, and the command returns.
    """
    auto = getattr(args, "auto_approve", False)
    pipeline = Pipeline.of(_require_connection(args))
    execution_id = pipeline.start()
    status = pipeline.follow(execution_id, lambda waiting: _ask_for_approval(waiting, auto))
    if status is None:
        return 0
    _print_summary(pipeline, args.state_dir, execution_id)
    return 0 if status == "Succeeded" else 1


def _print_summary(pipeline: Pipeline, state_dir: Path, execution_id: str) -> None:
    """The end-of-run summary, from the run's saved report (the API's answers if none)."""
    from localcloud.view import summary_lines

    report = read_report(state_dir, execution_id) or pipeline.run_state(execution_id)[0]
    print()
    print("\n".join(summary_lines(report)))


def _ask_for_approval(waiting: WaitingApproval, auto: bool) -> tuple[bool, str] | None:
    """The answer (auto, or a person at the terminal), or None to leave it waiting."""
    if auto:
        return True, "approved automatically (--auto-approve)"
    if sys.stdin.isatty():
        answer = input(f"\n{waiting.where}: promote this model to prod? [y/N] ").strip().lower()
        approved = answer in {"y", "yes"}
        return approved, f"{'approved' if approved else 'rejected'} at the terminal"
    print(
        f"\n{waiting.where} waits for approval, and there is no terminal to ask at. "
        "Answer it with\n  python -m localcloud approve      (or: approve --reject)\n"
        "then follow it with `python -m localcloud status`."
    )
    return None


def approve(args: argparse.Namespace) -> int:
    """Answer the approval the pipeline waits for: get-pipeline-state, put-approval-result."""
    pipeline = Pipeline.of(_require_connection(args))
    waiting = pipeline.waiting_approval()
    if waiting is None:
        print("localcloud: no approval is waiting", file=sys.stderr)
        return 1
    pipeline.answer(waiting, not args.reject, args.comment or "answered with `localcloud approve`")
    print("Rejected." if args.reject else "Approved.")
    return 0


def status(args: argparse.Namespace) -> int:
    """Whether the cloud is up (or how it died), and the current or last run."""
    from localcloud.view import render_stages, summary_lines

    connection = read_connection(args.state_dir)
    if connection is not None:
        print(f"Local cloud: up, pid {connection['pid']}")
        print("\n".join(endpoint_lines(connection)))
        pipeline = Pipeline.of(connection)
        latest = pipeline.codepipeline.list_pipeline_executions(
            pipelineName=pipeline.name, maxResults=1
        )["pipelineExecutionSummaries"]
        if latest and latest[0]["status"] not in FINISHED:
            run_state, waiting = pipeline.run_state(latest[0]["pipelineExecutionId"])
            print(f"Pipeline {pipeline.name} in progress:")
            print("\n".join(render_stages(run_state)))
            if waiting is not None:
                print("Waiting for approval: python -m localcloud approve (or: approve --reject)")
            return 0
    else:
        print("Local cloud: down")
        crash = find_crash(args.state_dir)
        if crash is not None:
            print("\n".join(crash.lines(cleaned=False)))
        elif (earlier := last_crash(args.state_dir)) is not None:
            print("Last time: " + " ".join(earlier.lines(cleaned=True)))
    report = latest_report(args.state_dir)
    if report is None:
        print("No pipeline run yet.")
        return 0
    if connection is None and in_progress_without_cloud(args.state_dir) is not None:
        report = interrupted(report, "Interrupted: the local cloud is no longer running")
    print("\n".join(summary_lines(report)))
    return 0


def endpoint_lines(connection: dict[str, Any]) -> list[str]:
    """One line per endpoint of the project: status, instances, and a rollout under way."""
    sagemaker = aws_client(connection, "sagemaker")
    project = connection["stacks"]["prep"]["ProjectName"]
    lines = []
    for env in ("dev", "prod"):
        name = f"{project}-{env}"
        try:
            endpoint = sagemaker.describe_endpoint(EndpointName=name)
        except ClientError:
            lines.append(f"Endpoint {name}: none yet")
            continue
        line = f"Endpoint {name}: {endpoint['EndpointStatus']} on {endpoint['EndpointConfigName']}"
        for variant in endpoint.get("ProductionVariants", []):
            line += (
                f", {variant['CurrentInstanceCount']} instance(s)"
                f" (desired {variant['DesiredInstanceCount']})"
            )
        pending = endpoint.get("PendingDeploymentSummary", {})
        for variant in pending.get("ProductionVariants", []):
            for step in variant.get("VariantStatus", []):
                line += f"; rolling out {pending['EndpointConfigName']}: {step['StatusMessage']}"
        if reason := endpoint.get("FailureReason"):
            line += f"; last failure: {reason}"
        lines.append(line)
    return lines


def logs(args: argparse.Namespace) -> int:
    """Print the logs of training jobs, endpoints, Lambda functions and the cloud itself."""
    files = sorted(p for p in args.state_dir.rglob("*.log") if args.name in str(p))
    if not files:
        print(f"No logs under {args.state_dir} match {args.name!r}.")
        return 1
    for path in files:
        lines = path.read_text(errors="replace").splitlines()
        print(f"==> {path.relative_to(args.state_dir)} <==")
        print("\n".join(lines[-args.lines :]))
    return 0


def push_command(args: argparse.Namespace) -> int:
    """Stand in for a CodeCommit push to the branch: its event starts the pipeline's rule."""
    from localcloud.cfn import load_template
    from localcloud.constants import ACCOUNT_ID
    from localcloud.events.push import commit_id, push
    from localcloud.stacks import PIPELINE_TEMPLATE

    connection = _require_connection(args)
    branch = args.branch or load_template(PIPELINE_TEMPLATE)["Parameters"]["BranchName"]["Default"]
    repository = connection["stacks"]["prep"].get("RepositoryName")
    if repository is None:
        print(
            "localcloud: this cloud's pipeline takes its model code from S3, not a branch: "
            "upload it with `make push-code LOCAL=yes`",
            file=sys.stderr,
        )
        return 1
    events = aws_client(connection, "events")
    arn = f"arn:aws:codecommit:{connection['region']}:{ACCOUNT_ID}:{repository}"
    event_id = push(events, arn, branch, commit_id(REPO_ROOT / "model-code"))
    print(f"Pushed {branch} of {repository} (event {event_id}).")
    return 0


def monitor(args: argparse.Namespace) -> int:
    """Run the monitoring schedules now over the last hours, and show what they found."""
    from localcloud.monitoring_runs import run_now, violations

    connection = _require_connection(args)
    sagemaker, s3 = aws_client(connection, "sagemaker"), aws_client(connection, "s3")
    if args.schedule:
        names = [args.schedule]
    else:
        summaries = sagemaker.list_monitoring_schedules(StatusEquals="Scheduled")
        names = [
            s["MonitoringScheduleName"]
            for s in summaries["MonitoringScheduleSummaries"]
            if not _one_time(sagemaker, s["MonitoringScheduleName"])
        ]
    if not names:
        print(
            "localcloud: no monitoring schedule to run: create one (aws sagemaker "
            "create-monitoring-schedule, or the SageMaker SDK's DefaultModelMonitor)",
            file=sys.stderr,
        )
        return 1
    failed = 0
    for name in names:
        execution = run_now(sagemaker, name, args.hours, progress=print)
        status = execution["MonitoringExecutionStatus"]
        reason = f": {execution['FailureReason']}" if "FailureReason" in execution else ""
        print(f"{name}: {status}{reason}")
        if status == "CompletedWithViolations":
            for violation in violations(sagemaker, s3, execution):
                where = violation.get("feature_name") or violation.get("metric_name", "")
                print(
                    f"  {where}: {violation['constraint_check_type']}: {violation['description']}"
                )
        failed += status not in {"Completed", "CompletedWithViolations"}
    return 1 if failed else 0


def _one_time(sagemaker: Any, name: str) -> bool:
    """Whether a schedule runs once (NOW): an earlier `monitor`'s run, not one to repeat."""
    described = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)
    return described["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == "NOW"


def port_number(text: str) -> int:
    """A TCP port from the command line (1 to 65535), or argparse's one-line error."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1-65535)")
    return port


def positive_integer(text: str) -> int:
    """A count from the command line (1 or more), or argparse's one-line error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not 1 or more")
    return value


def hours_back(text: str) -> int:
    """A window length in hours from the command line (1 to 24), or argparse's error."""
    hours = positive_integer(text)
    if hours > 24:
        raise argparse.ArgumentTypeError(f"{hours} is more than 24 (a one-time run's limit)")
    return hours


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; bad arguments get argparse's one-line error."""
    # Accepted before or after the subcommand; shown in each subcommand's --help.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help=f"the local cloud's state folder (default: {STATE_DIR})",
    )
    common.add_argument(
        "--dist",
        type=Path,
        default=argparse.SUPPRESS,
        help=f"the packaged Lambda zips (default: {DIST_DIR})",
    )
    parser = argparse.ArgumentParser(
        prog="python -m localcloud", description=__doc__, parents=[common]
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, function: Any, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text, parents=[common])
        sub.set_defaults(function=function)
        return sub

    for name, function, text in [
        ("demo", demo, "run the whole pipeline locally, print a summary, stop"),
        ("up", up, "start the local cloud in the background and run the pipeline"),
        ("start", start_command, "start the local cloud in the background, without a run"),
        ("serve", serve, "(internal) the background process `up` and `start` launch"),
    ]:
        command(name, function, text).add_argument(
            "--port", type=port_number, default=3000, help="API gateway port (3000)"
        )
    commands.choices["up"].add_argument(
        "--auto-approve", action="store_true", help="approve the prod deployment without asking"
    )
    for name in ("start", "serve"):
        commands.choices[name].add_argument(
            "--source",
            choices=LOCAL_SOURCES,
            default=LOCAL_SOURCE,
            help="the pipeline's model-code source: CodeCommit (the working copy of model-code/, "
            "`push` starts a run) or S3 (`make push-code LOCAL=yes` uploads the committed code "
            f"and starts a run); default {LOCAL_SOURCE}",
        )
    run_command = command("run", run, "run the pipeline again in the running cloud")
    run_command.add_argument("--auto-approve", action="store_true", help="approve without asking")
    approve_command = command("approve", approve, "approve (or reject) the waiting stage")
    approve_command.add_argument("--reject", action="store_true", help="reject instead")
    approve_command.add_argument("--comment", default="", help="a note kept with the answer")
    command("down", down, "stop the local cloud (or clean up after one that died)")
    command("env", env, "print the variables that point AWS clients at the running cloud")
    push_parser = command("push", push_command, "stand in for a CodeCommit push to the branch")
    push_parser.add_argument("--branch", default="", help="the branch (the stack's BranchName)")
    command("status", status, "show whether the cloud is up and the last run")
    logs_command = command("logs", logs, "show logs (jobs, endpoints, Lambdas)")
    logs_command.add_argument("name", nargs="?", default="", help="only logs whose path has this")
    logs_command.add_argument(
        "--lines", type=positive_integer, default=40, help="lines per log (40)"
    )
    monitor_command = command(
        "monitor", monitor, "run the monitoring schedules now and show their violations"
    )
    monitor_command.add_argument("--schedule", default="", help="only this schedule")
    monitor_command.add_argument(
        "--hours",
        type=hours_back,
        default=1,
        help="analyse the last HOURS hours of capture (1 to 24; default 1)",
    )
    args = parser.parse_args(argv)
    args.state_dir = getattr(args, "state_dir", STATE_DIR)
    args.dist = getattr(args, "dist", DIST_DIR)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run one command; expected failures print one clear line and exit 1."""
    args = parse_args(argv)
    try:
        return int(args.function(args))
    except (
        StackError,
        urllib.error.URLError,
        ConnectionError,
        ClientError,
        TimeoutError,
    ) as error:
        print(f"localcloud: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
