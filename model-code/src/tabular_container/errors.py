"""Errors the caller can fix, told apart from our own failures."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the caller (hyperparameters, data, settings); its message says what to fix."""
