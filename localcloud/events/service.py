"""The local EventBridge as the cloud runs it: the bus, its PutEvents handler, its S3 observer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from localcloud.core.json_protocol import JsonProtocol, actions_of
from localcloud.core.signing import Credentials, SignatureVerifier
from localcloud.events.bus import EventBus, utc_now
from localcloud.events.responses import SERVICE, TARGET_PREFIX, EventsResponses
from localcloud.events.rules import rules_of
from localcloud.events.sources import RequestObserver, enable_eventbridge_notifications
from localcloud.events.targets import TargetServices
from localcloud.stacks import Stack


class LocalEvents:
    """Everything the cloud wires: `bus`, `api` (PutEvents, JSON 1.1) and `observer`.

    The edge routes requests signed for `events` with `X-Amz-Target: AWSEvents.PutEvents` to
    `api.handle` (moto keeps the other actions), and calls `observer(service, request,
    response)` after each request it hands to moto.
    """

    def __init__(
        self,
        stacks: Sequence[Stack],
        services: TargetServices,
        credentials: Credentials,
        s3: Any,
        region: str,
    ) -> None:
        self.bus = EventBus(
            rules_of(stacks, created=utc_now()),
            services,
            account_id=stacks[0].context.account_id,
            region=region,
        )
        self.api = JsonProtocol(
            SERVICE,
            TARGET_PREFIX,
            actions_of(EventsResponses(self.bus)),
            SignatureVerifier(credentials, {SERVICE}),
        )
        self.observer = RequestObserver(self.bus, s3, enable_eventbridge_notifications(stacks, s3))
