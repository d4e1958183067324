"""The local API gateway: REST API stages and Lambda proxy integrations on loopback."""

from localcloud.apigateway.definition import ApiDefinition, ApiKey, UsagePlan
from localcloud.apigateway.routing import Route
from localcloud.apigateway.server import LocalApiGateway
from localcloud.apigateway.usage import Quota, Throttle
from localcloud.background import PortInUse

__all__ = [
    "ApiDefinition",
    "ApiKey",
    "LocalApiGateway",
    "PortInUse",
    "Quota",
    "Route",
    "Throttle",
    "UsagePlan",
]
