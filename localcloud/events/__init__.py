"""The local EventBridge default bus: the templates' rules, matched and delivered as on AWS."""

from localcloud.events.bus import EventBus
from localcloud.events.exceptions import EventRuleError, InvalidEventPattern
from localcloud.events.rules import Rule, Target, rules_of
from localcloud.events.service import LocalEvents
from localcloud.events.sources import RequestObserver
from localcloud.events.targets import TargetServices

__all__ = [
    "EventBus",
    "EventRuleError",
    "InvalidEventPattern",
    "LocalEvents",
    "RequestObserver",
    "Rule",
    "Target",
    "TargetServices",
    "rules_of",
]
