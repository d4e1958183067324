"""One endpoint for every service: `AWS_ENDPOINT_URL` alone reaches the whole local cloud."""

from localcloud.edge.server import Edge

__all__ = ["Edge"]
