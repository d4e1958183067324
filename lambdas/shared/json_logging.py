"""Structured logs for the Lambdas: one JSON object per line, correlation keys set once per call."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_correlation: dict[str, str] = {}


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line: time, level, logger, message, correlation keys, extras."""

    def format(self, record: logging.LogRecord) -> str:
        """One JSON object; values JSON cannot hold are written as their str()."""
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_correlation,
        }
        entry.update((k, v) for k, v in vars(record).items() if k not in _RESERVED)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _StdoutHandler(logging.Handler):
    """Write to the current sys.stdout (not the one at import), so redirected output sees it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
            sys.stdout.flush()
        except Exception:
            self.handleError(record)


def get_logger(name: str) -> logging.Logger:
    """A logger writing JSON lines to stdout at LOG_LEVEL (default INFO), apart from the root's."""
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False  # the Lambda runtime's root handler would print each line twice
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    logger.setLevel(logging.getLevelNamesMapping().get(level, logging.INFO))
    return logger


def set_correlation(**keys: str) -> None:
    """Replace the keys every following line carries; call once at the start of an invocation."""
    _correlation.clear()
    _correlation.update(keys)
