"""Which local implementation answers a request: by the service it is signed for, then its target.

A request matches a route when it is signed for the route's service and, where the route names
them, its `X-Amz-Target` starts with the route's prefix and its path matches the route's pattern.
A service with routes whose requests match none of them (Lambda's other operations) goes to moto.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from localcloud.background import Handler, HttpRequest


@dataclass(frozen=True)
class Route:
    """Requests a local implementation answers."""

    service: str  # the signing name: "sagemaker", "codepipeline", "lambda", ...
    handler: Handler
    target_prefix: str | None = None  # "CodePipeline_20150709." and the like
    path: re.Pattern[str] | None = None  # matched against the whole raw path

    def matches(self, service: str, request: HttpRequest) -> bool:
        """Whether this route answers `request`, signed for `service`."""
        if service != self.service:
            return False
        if self.target_prefix is not None and not (request.header("x-amz-target") or "").startswith(
            self.target_prefix
        ):
            return False
        return self.path is None or self.path.fullmatch(request.raw_path) is not None


class Router:
    """The local routes, in the order they were added."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, route: Route) -> None:
        """Answer the requests `route` matches with its handler (before later routes)."""
        self._routes.append(route)

    def handler_for(self, service: str, request: HttpRequest) -> Handler | None:
        """The local handler for a request signed for `service`, or None (moto's)."""
        return next(
            (route.handler for route in self._routes if route.matches(service, request)), None
        )
