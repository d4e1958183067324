"""Routes of a REST API per stage, matched the way API Gateway picks a resource and method."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from localcloud.apigateway.usage import Throttle

PARAMETER = re.compile(r"\{([^{}/]+?)(\+?)\}")


@dataclass(frozen=True)
class Route:
    """One method of one resource in one stage, integrated with a Lambda function (proxy)."""

    stage: str
    method: str  # "POST", ... or "ANY"
    path: str  # resource path: "/predict", "/items/{id}", "/{proxy+}"
    function: str
    stage_variables: Mapping[str, str] = field(default_factory=dict)
    api_key_required: bool = False
    throttle: Throttle | None = None  # the stage's method throttling (all callers together)


@dataclass(frozen=True)
class _Resource:
    """A resource path with parameters, and the methods defined on it."""

    pattern: re.Pattern[str]
    names: tuple[str, ...]
    rank: tuple[int, int]  # fewer greedy, then fewer plain parameters: the more specific first
    routes: list[Route] = field(default_factory=list)


def _compile(path: str) -> _Resource:
    names: list[str] = []
    greedy = 0
    regex, position = "", 0
    for match in PARAMETER.finditer(path):
        regex += re.escape(path[position : match.start()])
        names.append(match.group(1))
        greedy += bool(match.group(2))
        regex += "(.+)" if match.group(2) else "([^/]+)"
        position = match.end()
    regex += re.escape(path[position:])
    return _Resource(re.compile(regex), tuple(names), (greedy, len(names) - greedy))


class RouteTable:
    """Find the route for (stage, method, path) and the path parameters it binds."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._literal: dict[tuple[str, str], list[Route]] = {}
        templated: dict[tuple[str, str], _Resource] = {}
        for route in routes:
            key = (route.stage, route.path)
            if PARAMETER.search(route.path):
                templated.setdefault(key, _compile(route.path)).routes.append(route)
            else:
                self._literal.setdefault(key, []).append(route)
        self._templated: dict[str, list[_Resource]] = {}
        for (stage, _), resource in templated.items():
            self._templated.setdefault(stage, []).append(resource)
        for resources in self._templated.values():
            resources.sort(key=lambda resource: resource.rank)

    def match(self, stage: str, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route and its path parameters; None when API Gateway has no such resource/method.

        The most specific resource wins first (a literal path, then fewer parameters); a method
        it does not define is a miss, not a fall-through to a broader resource, as in API Gateway.
        """
        routes, parameters = self._literal.get((stage, path)), {}
        if routes is None:
            for resource in self._templated.get(stage, []):
                bound = resource.pattern.fullmatch(path)
                if bound is not None:
                    routes = resource.routes
                    parameters = dict(zip(resource.names, bound.groups(), strict=True))
                    break
            else:
                return None
        exact = [route for route in routes if route.method == method]
        route = exact[0] if exact else next((r for r in routes if r.method == "ANY"), None)
        return (route, parameters) if route is not None else None
