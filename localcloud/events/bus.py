"""The local default event bus: AWS's envelope, pattern matching, delivery, scheduled rules.

Delivery is asynchronous, as on AWS: `put_event` returns at once and a small thread pool hands
the event to every matching rule's targets. A failed delivery is logged with the rule and target
(EventBridge would retry and then drop it; there is no dead-letter queue locally).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from localcloud.events.rules import Rule
from localcloud.events.targets import TargetServices, deliver

LOG = logging.getLogger("localcloud.events")
DELIVERY_THREADS = 4


def utc_now() -> datetime:
    """The current time, timezone-aware (the bus's default clock)."""
    return datetime.now(UTC)


def event_time(moment: datetime) -> str:
    """EventBridge's `time`: ISO 8601 in UTC to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventBus:
    """The template's rules on the default bus of one account and region."""

    def __init__(
        self,
        rules: Iterable[Rule],
        services: TargetServices,
        *,
        account_id: str,
        region: str,
        clock: Callable[[], datetime] = utc_now,
        tick_seconds: float = 1.0,
    ) -> None:
        self.rules = list(rules)
        self.services = services
        self.account_id = account_id
        self.region = region
        self.clock = clock
        self.tick_seconds = tick_seconds
        self._executor = ThreadPoolExecutor(DELIVERY_THREADS, thread_name_prefix="events")
        self._stopping = threading.Event()
        self._scheduler: threading.Thread | None = None
        now = clock()
        self._next_fire = {
            rule.name: rule.schedule.next_after(now) for rule in self.rules if rule.schedule
        }

    # --- events ----------------------------------------------------------------------------
    def put_event(
        self,
        source: str,
        detail_type: str,
        detail: dict[str, Any],
        resources: Iterable[str] = (),
        *,
        event_id: str | None = None,
        time: datetime | None = None,
    ) -> dict[str, Any]:
        """Put one event on the bus in AWS's envelope; returns the event as delivered."""
        event = self._envelope(source, detail_type, detail, resources, event_id, time)
        self.submit(lambda: self._route(event))
        return event

    def _envelope(
        self,
        source: str,
        detail_type: str,
        detail: dict[str, Any],
        resources: Iterable[str],
        event_id: str | None,
        time: datetime | None,
    ) -> dict[str, Any]:
        return {
            "version": "0",
            "id": event_id or str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": self.account_id,
            "time": event_time(time or self.clock()),
            "region": self.region,
            "resources": list(resources),
            "detail": detail,
        }

    def submit(self, work: Callable[[], None]) -> None:
        """Run `work` on the bus's delivery threads (sources use it for their own reads)."""

        def run() -> None:
            try:
                work()
            except Exception:
                LOG.exception("event bus work failed")

        try:
            self._executor.submit(run)
        except RuntimeError:  # shut down: the cloud is stopping, nobody is left to deliver to
            LOG.info("event bus stopped: dropped an event")

    def _route(self, event: dict[str, Any]) -> None:
        for rule in self.rules:
            if rule.matches(event):
                self._deliver_to(rule, event)

    def _deliver_to(self, rule: Rule, event: dict[str, Any]) -> None:
        for target in rule.targets:
            try:
                deliver(self.services, rule, target, event)
                LOG.info("event %s: rule %s -> %s", event["id"], rule.name, target.arn)
            except Exception:
                LOG.exception(
                    "event %s: rule %s could not deliver to %s", event["id"], rule.name, target.arn
                )

    # --- scheduled rules -------------------------------------------------------------------
    def fire_due(self, now: datetime) -> list[str]:
        """Fire every enabled scheduled rule whose time has come; the names of those fired."""
        fired = []
        for rule in self.rules:
            due = self._next_fire.get(rule.name)
            if rule.schedule is None or due is None or due > now:
                continue
            self._next_fire[rule.name] = rule.schedule.next_after(now)
            if not rule.enabled:
                continue
            event = self._envelope("aws.events", "Scheduled Event", {}, [rule.arn], None, due)
            # A scheduled event goes to its own rule's targets only, never through patterns.
            self.submit(lambda event=event, rule=rule: self._deliver_to(rule, event))
            fired.append(rule.name)
        return fired

    def start(self) -> None:
        """Start firing scheduled rules (if there are any) in a background thread."""
        if not self._next_fire or self._scheduler is not None:
            return

        def loop() -> None:
            while not self._stopping.wait(self.tick_seconds):
                self.fire_due(self.clock())

        self._scheduler = threading.Thread(target=loop, name="events-scheduler", daemon=True)
        self._scheduler.start()

    def stop(self) -> None:
        """Stop the scheduler and drop queued deliveries; safe to call twice.

        A delivery under way (a Lambda running) is not waited for: the runtime stops it.
        """
        self._stopping.set()
        if self._scheduler is not None:
            self._scheduler.join(5)
            self._scheduler = None
        self._executor.shutdown(wait=False, cancel_futures=True)
