"""The edge: one loopback port where every service of the local cloud answers, as on moto server.

Each request is routed by the service it is signed for: to a local implementation mounted for
it (SageMaker, CodePipeline, Lambda's Invoke, ...), which checks the signature itself, or else
to moto in this process, after the edge has checked the signature against the cloud's own
credentials. A service neither implements is refused, never answered with a placeholder.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from localcloud.background import Handler, HttpRequest, HttpResponse, HttpServer
from localcloud.core.exceptions import AwsError, MissingAuthenticationTokenException
from localcloud.core.signing import Credentials, SignatureVerifier, signed_service
from localcloud.edge.errors import error_for
from localcloud.edge.moto_app import InProcessMoto
from localcloud.edge.routing import Route, Router

LOG = logging.getLogger("localcloud.edge")
MAX_BODY_BYTES = 512 * 1024 * 1024  # S3 uploads of data and model artifacts pass through here
Listener = Callable[[str, HttpRequest, HttpResponse], None]


class ServiceNotImplemented(AwsError):
    """A request for a service neither the local cloud nor moto implements."""

    code = "NotImplemented"
    status = 501


class PresignedUrlRefused(AwsError):
    """Query-string authentication, which the edge does not verify, so does not accept."""

    code = "AccessDenied"
    status = 403


class Edge:
    """Serve every service on one port; `mount` local implementations, moto takes the rest.

    Usage::

        edge = Edge(credentials)
        edge.mount("sagemaker", sagemaker_front_end.handle)
        edge.observe(lambda service, request, response: ...)   # after each answer of moto's
        edge.start()            # clients get AWS_ENDPOINT_URL=edge.url
        edge.stop()
    """

    def __init__(
        self,
        credentials: Credentials,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        temporary: tuple[Credentials, ...] = (),
    ) -> None:
        """`temporary`: credentials with a session token the cloud issued (artifact access)."""
        self.moto = InProcessMoto()
        self._router = Router()
        self._listeners: list[Listener] = []
        self._verifier = SignatureVerifier(credentials, None, temporary=temporary)
        self._server = HttpServer(
            self.handle,
            host=host,
            port=port,
            what="the local cloud's edge",
            max_body=MAX_BODY_BYTES,
            threads=64,
        )

    @property
    def url(self) -> str:
        """The one endpoint URL every client is given."""
        return self._server.url

    def mount(
        self,
        service: str,
        handler: Handler,
        *,
        target_prefix: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer requests signed for `service` (and matching the target or path) with `handler`."""
        pattern = re.compile(path) if path is not None else None
        self._router.add(Route(service, handler, target_prefix, pattern))

    def observe(self, listener: Listener) -> None:
        """Call `listener(service, request, response)` after each request moto answers."""
        self._listeners.append(listener)

    def start(self) -> None:
        """Bind and serve in background threads; a taken port raises PortInUse naming it."""
        self._server.start()

    def stop(self) -> None:
        """Stop serving and free the port; safe to call twice."""
        self._server.stop()

    def handle(self, request: HttpRequest) -> HttpResponse:
        """The whole answer to one request, from whichever implementation serves it."""
        service = signed_service(request)
        if service is None:
            # Without a signature the service is a guess: S3's XML unless an X-Amz-Target names
            # a JSON action (moto server guesses S3 as well).
            guess = _query_signed_service(request) or (
                None if request.header("x-amz-target") else "s3"
            )
            return error_for(guess, _unsigned(request))
        local = self._router.handler_for(service, request)
        if local is not None:
            return local(request)
        try:
            self._verifier.verify(request)
        except AwsError as error:
            return error_for(service, error)
        if not self.moto.serves(request):
            return error_for(
                service,
                ServiceNotImplemented(
                    f"The local cloud does not implement the service {service!r} "
                    "(the service this request is signed for)"
                ),
            )
        response = self.moto.handle(request)
        for listener in self._listeners:
            try:
                listener(service, request, response)
            except Exception:  # a listener's bug must not change moto's answer
                LOG.exception("edge listener failed on %s %s", request.method, request.raw_path)
        return response


def _query_signed_service(request: HttpRequest) -> str | None:
    """The service of a presigned URL's `X-Amz-Credential`, if the query has one."""
    match = re.search(r"(?:^|&)X-Amz-Credential=([^&]*)", request.query)
    if match is None:
        return None
    scope = match.group(1).replace("%2F", "/").split("/")
    return scope[3] if len(scope) == 5 else None


def _unsigned(request: HttpRequest) -> AwsError:
    signed_in_query = _query_signed_service(request) is not None or re.search(
        r"(?:^|&)Signature=", request.query
    )  # SigV4's X-Amz-Credential, or the older S3 presigned URLs' Signature
    if signed_in_query:
        return PresignedUrlRefused(
            "The local cloud does not accept presigned URLs (query-string authentication): "
            "sign the request's headers with the cloud's credentials instead"
        )
    return MissingAuthenticationTokenException()
