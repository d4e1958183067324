"""Why the local event bus refuses a rule from a template: EventBridge's error names and wording."""

from __future__ import annotations


class EventRuleError(ValueError):
    """A rule the local bus cannot run as EventBridge would; the cloud refuses to start with it."""

    code = "ValidationException"


class InvalidEventPattern(EventRuleError):
    """EventBridge's InvalidEventPatternException."""

    code = "InvalidEventPatternException"
