"""Bring the whole local cloud up (and down) around the real templates, zips and container."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from localcloud.alarms import AlarmActions, AlarmEvaluator
from localcloud.apigateway import LocalApiGateway
from localcloud.autoscaler import EndpointAutoscaler
from localcloud.cfn import resolve
from localcloud.codepipeline import CodePipelineService
from localcloud.codepipeline.build import LocalBuilder, zip_source_tree
from localcloud.codepipeline.definition import PipelineDefinition, read_pipeline
from localcloud.codepipeline.models import Approver
from localcloud.codepipeline.runner import ActionServices, RunReport
from localcloud.constants import ACCOUNT_ID, GATEWAY_PORT, LOCAL_SOURCE, LOCAL_SOURCES, REGION
from localcloud.core.signing import Credentials
from localcloud.edge import Edge
from localcloud.events import LocalEvents, TargetServices
from localcloud.lambda_runtime import LambdaFunction, LambdaRuntime
from localcloud.lambda_runtime.function import DEFAULT_MEMORY_MB
from localcloud.lambda_runtime.server import INVOKE_PATH, LambdaFrontEnd
from localcloud.processes import ProcessRegistry
from localcloud.routes import local_urls, read_api
from localcloud.run_reports import save_report
from localcloud.sagemaker import start_server as start_sagemaker
from localcloud.sagemaker.layout import StateLayout
from localcloud.sagemaker.model_registry import REGISTRY_FILE
from localcloud.sagemaker_sdk import write_sdk_config
from localcloud.stacks import (
    PIPELINE_TEMPLATE,
    PREP_TEMPLATE,
    REPO_ROOT,
    Stack,
    StackError,
    create_stack,
    upload_lambda_zips,
    upload_training_data,
)

# What the local cloud gives the pipeline stack unless told otherwise: prod's rollouts bake and
# its autoscaling cools down for seconds, not the template's minutes, so a run stays quick; the
# waits are still real waits.
LOCAL_PIPELINE_PARAMETERS = {
    "ProdBakeSeconds": "10",
    "ProdTerminationWaitSeconds": "5",
    "ProdMaxDeploymentSeconds": "600",
    "ProdScaleOutCooldownSeconds": "10",
    "ProdScaleInCooldownSeconds": "30",
    # 10 requests a second per instance: prod (2 instances) scales out past 20 a second, which
    # the API's usage plan (25 a second) lets a user reach.
    "ProdTargetInvocationsPerInstance": "600",
}


@dataclass
class CloudSettings:
    """What a user can choose about a local cloud; defaults match the console walkthrough."""

    state_dir: Path = REPO_ROOT / ".localcloud"
    project: str = "abalone"
    gateway_port: int = GATEWAY_PORT
    model_code: Path = REPO_ROOT / "model-code"
    dist: Path = REPO_ROOT / "dist" / "lambdas"
    pipeline_parameters: dict[str, str] = field(default_factory=dict)
    source_provider: str = LOCAL_SOURCE  # both stacks' SourceProvider, one of LOCAL_SOURCES
    python: str = sys.executable
    # How often alarms are evaluated over their periods (CloudWatch: every minute); more often
    # here, so a rollout's short bake sees its alarms.
    alarm_interval_seconds: float = 10.0
    autoscaling_interval_seconds: float = 5.0  # how often scalable targets are looked at


def ensure_port_free(port: int, what: str) -> None:
    """Fail fast, naming the port, when something already listens there."""
    with socket.socket() as probe:
        # As servers do: connections of an earlier run in TIME_WAIT must not count as "in use".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise StackError(
                f"port {port} ({what}) is already in use: stop whatever holds it "
                "(`python -m localcloud down` if it is an earlier local cloud)"
            ) from None


class LocalCloud:
    """The edge (moto behind it), local SageMaker, Lambda, CodePipeline, gateway; both stacks."""

    def __init__(self, settings: CloudSettings) -> None:
        self.settings = settings
        self.state_dir = settings.state_dir
        self._stoppers: list[Callable[[], None]] = []
        self.environment: dict[str, str] = {}
        self.pipeline_stack: Stack | None = None
        self.prep_stack: Stack | None = None
        self.definition: PipelineDefinition | None = None
        self.api_key = ""
        # Every local service but moto accepts only requests signed with these (connection.json).
        self.credentials = Credentials.generate()
        # CodePipeline jobs get temporary credentials for their artifacts, as on AWS.
        self.artifact_credentials = Credentials.generate(temporary=True)

    # --- lifecycle -----------------------------------------------------------------------
    def start(self, progress: Callable[[str], None] = print) -> None:
        """Start every service and create both stacks; stop what started if anything fails."""
        ensure_port_free(self.settings.gateway_port, "the local API gateway")
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            self._start_services(progress)
            self._create_stacks(progress)
            self._start_events_and_alarms(progress)
            self._start_gateway(progress)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop everything in reverse order of starting; safe to call twice."""
        while self._stoppers:
            stopper = self._stoppers.pop()
            try:
                stopper()
            except Exception as error:
                print(f"localcloud: while stopping: {error}", file=sys.stderr)

    def _start_services(self, progress: Callable[[str], None]) -> None:
        # moto logs every request through werkzeug; its warnings are not the user's business.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        logging.getLogger("moto").setLevel(logging.ERROR)
        edge = Edge(self.credentials, temporary=(self.artifact_credentials,))
        # moto keeps its state per process: a cloud started after another must see a new account.
        edge.moto.reset()
        edge.start()
        self._stoppers.append(edge.stop)
        self.edge = edge
        progress(f"AWS endpoint       {edge.url}")
        self.environment = {
            **self.credentials.environment(),
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": edge.url,
            **write_sdk_config(self.state_dir, REGION, ACCOUNT_ID),
        }
        self._export_environment()
        # The registry's versions point at objects in moto's S3, which a new cloud starts
        # without, so the registry starts empty too (recovery.RESTART_NOTE); the local
        # SageMaker keeps it on disk while this cloud runs.
        (StateLayout(self.state_dir).sagemaker / REGISTRY_FILE).unlink(missing_ok=True)
        sagemaker = start_sagemaker(self.state_dir, self.credentials, host="127.0.0.1", port=0)
        self._stoppers.append(sagemaker.stop)
        edge.mount("sagemaker", sagemaker.handle)
        self.sagemaker = sagemaker
        codepipeline = CodePipelineService(self.credentials, host="127.0.0.1", port=0)
        codepipeline.start()
        self._stoppers.append(codepipeline.stop)
        edge.mount("codepipeline", codepipeline.handle)
        self.codepipeline = codepipeline
        self.session = boto3.session.Session(region_name=REGION)
        # Functions see what Lambda gives them: the endpoint, region and credentials (AWS_*).
        aws_only = {name: value for name, value in self.environment.items() if name[:4] == "AWS_"}
        self.runtime = LambdaRuntime(
            self.state_dir, ambient_environment=aws_only, logs=self.session.client("logs")
        )
        self._stoppers.append(self.runtime.shutdown)
        invoke = LambdaFrontEnd(self.runtime, self.credentials)
        edge.mount("lambda", invoke.handle, path=INVOKE_PATH.pattern)  # the rest of Lambda: moto

    def _export_environment(self) -> None:
        """Point this process's boto3 at the local cloud; `stop` puts the old values back.

        boto3's default session keeps the credentials it first found, so it is dropped both
        ways: the next `boto3.client()` reads this cloud's (or, after `stop`, the old) ones.
        """
        previous = {name: os.environ.get(name) for name in self.environment}

        def restore() -> None:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            boto3.DEFAULT_SESSION = None

        self._stoppers.append(restore)
        os.environ.update(self.environment)
        boto3.DEFAULT_SESSION = None

    def _create_stacks(self, progress: Callable[[str], None]) -> None:
        project, source = self.settings.project, self.settings.source_provider
        if source not in LOCAL_SOURCES:
            raise StackError(
                f"the local cloud has no {source} source: it offers {' and '.join(LOCAL_SOURCES)} "
                "(CodeConnection needs GitHub, GitLab or Bitbucket: deploy to AWS for it)"
            )
        self.prep_stack = create_stack(
            self.session,
            f"{project}-prep",
            PREP_TEMPLATE,
            {"ProjectName": project, "SourceProvider": source},
        )
        progress(f"stack created      {self.prep_stack.name}")
        parameters = {
            "PrepStackName": self.prep_stack.name,
            "SourceProvider": source,
            **LOCAL_PIPELINE_PARAMETERS,
            **self.settings.pipeline_parameters,
        }
        upload_lambda_zips(
            self.session,
            self.prep_stack.outputs["LambdaCodeBucketName"],
            self.settings.dist,
            parameters,
        )
        self.pipeline_stack = create_stack(
            self.session, f"{project}-pipeline", PIPELINE_TEMPLATE, parameters
        )
        progress(f"stack created      {self.pipeline_stack.name}")
        self.definition = read_pipeline(self.pipeline_stack.template, self.pipeline_stack.context)
        self.codepipeline.pipelines.add_pipeline(
            self.definition,
            self._action_services,
            on_change=lambda snapshot: save_report(self.state_dir, snapshot),
        )
        self._register_functions()
        splits = self.state_dir / "data"
        subprocess.run(
            [self.settings.python, str(REPO_ROOT / "scripts" / "prepare_data.py"), str(splits)],
            check=True,
            capture_output=True,
        )
        upload_training_data(self.session, self.pipeline_stack.outputs["DataBucketName"], splits)
        progress(f"training data in   s3://{self.pipeline_stack.outputs['DataBucketName']}/")

    def _register_functions(self) -> None:
        """Give the Lambda runtime each function as the stack defines it, code from S3."""
        assert self.pipeline_stack is not None
        s3 = self.session.client("s3")
        context = self.pipeline_stack.context
        for logical_id, resource in self.pipeline_stack.resources_of_type(
            "AWS::Lambda::Function"
        ).items():
            properties = resolve(resource["Properties"], context)
            code = properties["Code"]
            zip_bytes = s3.get_object(Bucket=code["S3Bucket"], Key=code["S3Key"])["Body"].read()
            self.runtime.register(
                LambdaFunction(
                    name=context.physical_ids[logical_id],
                    code=zip_bytes,
                    handler=properties["Handler"],
                    environment=properties.get("Environment", {}).get("Variables", {}),
                    timeout=int(properties.get("Timeout", 3)),
                    memory=int(properties.get("MemorySize", DEFAULT_MEMORY_MB)),
                    log_group=properties.get("LoggingConfig", {}).get("LogGroup", ""),
                )
            )

    def _start_events_and_alarms(self, progress: Callable[[str], None]) -> None:
        """The templates' event rules and the alarm evaluator, once the stacks exist."""
        stacks = [stack for stack in (self.prep_stack, self.pipeline_stack) if stack is not None]
        sns = self.session.client("sns")
        local_events = LocalEvents(
            stacks,
            TargetServices(
                start_pipeline_execution=lambda name, trigger, event: (
                    self.codepipeline.start_execution(name, trigger)
                ),
                invoke_lambda=self.runtime.invoke_async,
                publish_sns=lambda topic, message: sns.publish(TopicArn=topic, Message=message),
            ),
            self.credentials,
            self.session.client("s3"),
            REGION,
        )
        self.events = local_events.bus
        self.events.start()
        self._stoppers.append(self.events.stop)
        # The registry's state changes go on the bus from now on (none before: stack creation).
        self.sagemaker.backend.set_event_sink(self.events.put_event)
        self._stoppers.append(lambda: self.sagemaker.backend.set_event_sink(None))
        # So do the pipeline's execution, stage and action state changes (the rejected-approval
        # rule reads them); an execution the cloud's stop abandons puts none on a stopped bus.
        self.codepipeline.set_event_sink(self.events.put_event)
        self._stoppers.append(lambda: self.codepipeline.set_event_sink(None))
        # PutEvents is local (moto's raises on the template's CodePipeline targets); moto keeps
        # EventBridge's other actions. S3's object writes are seen as moto answers them.
        self.edge.mount("events", local_events.api.handle, target_prefix="AWSEvents.PutEvents")
        self.edge.observe(local_events.observer)
        self.alarms = AlarmEvaluator(
            self.session.client("cloudwatch"),
            AlarmActions(sns, self.events),
            interval_seconds=self.settings.alarm_interval_seconds,
        )
        self.alarms.start()
        self._stoppers.append(self.alarms.stop)
        # Application Auto Scaling: moto stores the targets and policies; this applies them.
        self.autoscaler = EndpointAutoscaler(
            self.session.client, interval_seconds=self.settings.autoscaling_interval_seconds
        )
        self.autoscaler.start()
        self._stoppers.append(self.autoscaler.stop)
        progress(
            f"event rules        {len(self.events.rules)}, alarms evaluated every "
            f"{self.settings.alarm_interval_seconds:g} s, endpoints autoscaled every "
            f"{self.settings.autoscaling_interval_seconds:g} s"
        )

    def _start_gateway(self, progress: Callable[[str], None]) -> None:
        """Serve the stack's REST API as moto holds it (stages, key, usage plan, policy)."""
        assert self.pipeline_stack is not None
        outputs = self.pipeline_stack.outputs
        apigateway = self.session.client("apigateway")
        account_id = self.pipeline_stack.context.account_id
        self.api_key = apigateway.get_api_key(apiKey=outputs["ApiKeyId"], includeValue=True)[
            "value"
        ]
        gateway = LocalApiGateway(
            self.runtime,
            lambda: read_api(apigateway, outputs["ApiId"], account_id),
            host="127.0.0.1",
            port=self.settings.gateway_port,
        )
        gateway.start()
        self._stoppers.append(gateway.stop)
        self.gateway = gateway
        self.gateway_url = gateway.url
        progress(f"API gateway        {gateway.url}")
        for url, local in local_urls(outputs, gateway.url).items():
            progress(f"  {url}  ->  {local}")

    # --- pipeline runs -------------------------------------------------------------------
    def run_pipeline(
        self,
        approve: Approver,
        observer: Callable[[RunReport], None] = lambda report: None,
        model_code: Path | None = None,
    ) -> RunReport:
        """One pipeline execution to its end, approvals answered in-process by `approve`
        (through the same rules as PutApprovalResult); the source is the working copy's model
        code, or `model_code`."""
        assert self.definition is not None
        execution = self.codepipeline.pipelines.start_execution(
            self.definition.name, approver=approve, observer=observer, model_code=model_code
        )
        execution.done.wait()
        return execution.runner.report

    def _action_services(self, model_code: Path | None) -> ActionServices:
        """What one execution's actions run with: the cloud's S3, jobs, Lambdas and builder."""
        assert self.pipeline_stack is not None
        source_tree = model_code or self.settings.model_code
        return ActionServices(
            s3=self.session.client("s3"),
            jobs=self.codepipeline.jobs,
            invoke_lambda=self.runtime.invoke,
            source_code=lambda: zip_source_tree(source_tree),
            build_image=LocalBuilder(
                self.state_dir / "images",
                self.session.client("ecr"),
                self._build_environments(),
                ProcessRegistry(self.state_dir),
                python=self.settings.python,
            ),
            artifact_credentials=self.artifact_credentials,
            account_id=self.pipeline_stack.context.account_id,
        )

    def _build_environments(self) -> dict[str, dict[str, str]]:
        assert self.pipeline_stack is not None
        environments = {}
        for logical_id, resource in self.pipeline_stack.resources_of_type(
            "AWS::CodeBuild::Project"
        ).items():
            properties = resolve(resource["Properties"], self.pipeline_stack.context)
            variables = properties.get("Environment", {}).get("EnvironmentVariables", [])
            name = properties.get("Name") or self.pipeline_stack.context.physical_ids[logical_id]
            environments[name] = {v["Name"]: str(v["Value"]) for v in variables}
        return environments
