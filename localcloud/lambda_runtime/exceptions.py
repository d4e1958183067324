"""Lambda's error codes for what a caller of the runtime can get wrong, with Lambda's wording."""

from __future__ import annotations


class ResourceNotFoundException(LookupError):
    """Invoke of a function that was never registered."""


class InvalidParameterValueException(ValueError):
    """A function configuration Lambda's CreateFunction would refuse."""


class CallerTimeout(TimeoutError):
    """The caller's own wait limit ran out before the function answered (API Gateway's 29 s)."""
