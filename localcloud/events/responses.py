"""EventBridge's PutEvents, served locally so a user's events reach the template's rules.

moto's own PutEvents cannot be used: it hands each event to the rules moto's CloudFormation
created from the template, and raises NotImplementedError on their CodePipeline targets. Every
other EventBridge action stays with moto.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from localcloud.events.bus import EventBus

SERVICE = "events"
TARGET_PREFIX = "AWSEvents"


def _entry_error(code: str, message: str) -> dict[str, str]:
    return {"ErrorCode": code, "ErrorMessage": message}


class EventsResponses:
    """One method per action (only PutEvents is local)."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    def put_events(self, params: dict[str, Any]) -> dict[str, Any]:
        """Each entry is put on the bus or answered with EventBridge's per-entry error."""
        results = [self._put(entry) for entry in params["Entries"]]
        failed = sum(1 for result in results if "ErrorCode" in result)
        return {"FailedEntryCount": failed, "Entries": results}

    def _put(self, entry: dict[str, Any]) -> dict[str, str]:
        for member in ("Source", "DetailType", "Detail"):
            if not entry.get(member):
                return _entry_error(
                    "InvalidArgument",
                    f"Parameter {member} is not valid. Reason: {member} is a required argument.",
                )
        bus_name = entry.get("EventBusName", "default")
        if bus_name != "default" and not bus_name.endswith(":event-bus/default"):
            return _entry_error(
                "InvalidArgument", f"Event bus {bus_name} does not exist in the local cloud."
            )
        try:
            detail = json.loads(entry["Detail"])
        except ValueError:
            detail = None
        if not isinstance(detail, dict):
            return _entry_error("MalformedDetail", "Detail is malformed.")
        time = datetime.fromtimestamp(float(entry["Time"]), UTC) if "Time" in entry else None
        event = self.bus.put_event(
            entry["Source"], entry["DetailType"], detail, entry.get("Resources", []), time=time
        )
        return {"EventId": event["id"]}
