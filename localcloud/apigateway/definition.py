"""What one REST API is at one moment: routes per stage, API keys, usage plans, resource policy."""

from __future__ import annotations

from dataclasses import dataclass, field

from localcloud.apigateway.policy import ResourcePolicy
from localcloud.apigateway.routing import Route
from localcloud.apigateway.usage import Quota, Throttle


@dataclass(frozen=True)
class ApiKey:
    """An API key: its id, the value clients send in `x-api-key`, and whether it is enabled."""

    id: str
    value: str
    enabled: bool = True


@dataclass(frozen=True)
class UsagePlan:
    """A usage plan of this API: the stages it covers, its keys, and its limits per key."""

    id: str
    stages: frozenset[str]
    key_ids: frozenset[str]
    throttle: Throttle | None = None
    quota: Quota | None = None


@dataclass(frozen=True)
class ApiDefinition:
    """Everything the gateway needs to answer for one REST API (re-read as it changes)."""

    routes: tuple[Route, ...]
    api_keys: tuple[ApiKey, ...] = ()
    usage_plans: tuple[UsagePlan, ...] = ()
    policy: ResourcePolicy | None = None
    api_id: str = "local"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    # Why the definition could not be read in full (an unsupported policy, say): every request
    # then answers 500, as a misconfigured API does, and the log names this.
    problem: str | None = field(default=None, compare=False)

    @property
    def arn(self) -> str:
        """`arn:aws:execute-api:<region>:<account>:<api id>`, the prefix of its methods' ARNs."""
        return f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}"
