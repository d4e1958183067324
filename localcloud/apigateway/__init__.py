"""The local API gateway: REST API stages and Lambda proxy integrations on loopback."""

from localcloud.apigateway.routing import Route
from localcloud.apigateway.server import LocalApiGateway
from localcloud.background import PortInUse

__all__ = ["LocalApiGateway", "PortInUse", "Route"]
