"""The job API's wire: CodePipeline's JSON 1.1 (`X-Amz-Target: CodePipeline_20150709.<Action>`).

Served through the shared front end (`localcloud.core.json_protocol`): signed with the cloud's
credentials and checked against botocore's own model of the service before any work.
"""

from __future__ import annotations

from localcloud.background import HttpRequest, HttpResponse, HttpServer
from localcloud.codepipeline.job_api.models import JobStore
from localcloud.codepipeline.job_api.responses import JobApiResponses
from localcloud.constants import ACCOUNT_ID
from localcloud.core.json_protocol import JsonProtocol, actions_of
from localcloud.core.signing import Credentials, SignatureVerifier

SERVICE = "codepipeline"
TARGET_PREFIX = "CodePipeline_20150709"


class JobApi(JobStore):
    """The job store served over HTTP on loopback, for clients signed with `credentials`.

    Usage::

        jobs = JobApi(credentials, port=0)
        jobs.start()        # Lambdas get AWS_ENDPOINT_URL_CODEPIPELINE=jobs.url
        job_id = jobs.open_job(data)            # data: the event's CodePipeline.job.data
        ... invoke the Lambda with {"CodePipeline.job": {"id": job_id, "data": data, ...}} ...
        result = jobs.wait_result(job_id, timeout=30)   # JobResult, or None
        jobs.stop()
    """

    def __init__(
        self,
        credentials: Credentials,
        host: str = "127.0.0.1",
        port: int = 0,
        account_id: str = ACCOUNT_ID,
    ) -> None:
        super().__init__(account_id)
        self._protocol = JsonProtocol(
            SERVICE,
            TARGET_PREFIX,
            actions_of(JobApiResponses(self)),
            SignatureVerifier(credentials, {SERVICE}),
        )
        self._server = HttpServer(
            self._protocol.handle, host=host, port=port, what="the CodePipeline job API"
        )

    def handle(self, request: HttpRequest) -> HttpResponse:
        """One request's answer (what the edge mounts for "codepipeline")."""
        return self._protocol.handle(request)

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
        """Stop serving and free the port; safe to call twice."""
        self._server.stop()
