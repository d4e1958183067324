"""CodePipeline's wire: JSON 1.1 (`X-Amz-Target: CodePipeline_20150709.<Action>`), signing name
`codepipeline`, one handler for the job API and the pipeline API.

Served through the shared front end (`localcloud.core.json_protocol`): signed with the cloud's
credentials and checked against botocore's own model of the service before any work. `handle`
is what an edge endpoint dispatches to; `start` also serves it on a loopback port of its own.
"""

from __future__ import annotations

from localcloud.background import HttpRequest, HttpResponse, HttpServer
from localcloud.codepipeline.jobs import JobStore
from localcloud.codepipeline.models import CodePipelineBackend
from localcloud.codepipeline.responses import CodePipelineResponses
from localcloud.codepipeline.state_events import EventSink
from localcloud.constants import ACCOUNT_ID, REGION
from localcloud.core.json_protocol import JsonProtocol, actions_of
from localcloud.core.signing import Credentials, SignatureVerifier

SERVICE = "codepipeline"
TARGET_PREFIX = "CodePipeline_20150709"


class CodePipelineService:
    """The local CodePipeline: its jobs, its pipelines, and the protocol in front of both.

    Usage::

        service = CodePipelineService(credentials)
        service.start()   # clients get AWS_ENDPOINT_URL_CODEPIPELINE=service.url
        service.pipelines.add_pipeline(definition, services_for)   # the stack's pipeline
        service.set_event_sink(bus.put_event)   # state-change events, once the bus exists
        execution_id = service.start_execution("abalone-pipeline")
        ...
        service.stop()
    """

    def __init__(
        self,
        credentials: Credentials,
        host: str = "127.0.0.1",
        port: int = 0,
        account_id: str = ACCOUNT_ID,
        region: str = REGION,
    ) -> None:
        self.jobs = JobStore(account_id)
        self.pipelines = CodePipelineBackend(account_id, region)
        self._protocol = JsonProtocol(
            SERVICE,
            TARGET_PREFIX,
            actions_of(CodePipelineResponses(self.jobs, self.pipelines)),
            SignatureVerifier(credentials, {SERVICE}),
        )
        self._server = HttpServer(self.handle, host=host, port=port, what="the local CodePipeline")

    def handle(self, request: HttpRequest) -> HttpResponse:
        """The whole answer to one request, errors included."""
        return self._protocol.handle(request)

    def start_execution(self, pipeline_name: str, trigger: dict[str, str] | None = None) -> str:
        """Start an execution as an event rule's target does; its id. `trigger` is the
        execution's ExecutionTrigger (e.g. `{"triggerType": "CloudWatchEvent", "triggerDetail":
        <rule ARN>}`), StartPipelineExecution's by default."""
        return self.pipelines.start_execution(pipeline_name, trigger).id

    def set_event_sink(self, sink: EventSink | None) -> None:
        """Where the executions' state-change events go from now on (None: dropped), as
        `EventBus.put_event` takes them: (source, detail-type, detail, resources)."""
        self.pipelines.emitter.sink = sink

    @property
    def url(self) -> str:
        """The endpoint URL botocore is given."""
        return self._server.url

    @property
    def port(self) -> int:
        """The port bound (after `start`, the actual one when 0 was asked for)."""
        return self._server.port

    def start(self) -> None:
        """Bind and serve in a background thread; a taken port raises PortInUse naming it."""
        self._server.start()

    def stop(self) -> None:
        """Abandon executions in progress, stop serving and free the port; safe to call twice."""
        self.pipelines.shutdown()
        self._server.stop()
