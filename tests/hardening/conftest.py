"""The container suite's fixtures, shared: a trained model and a running `serve`."""

from __future__ import annotations

from tests.container.conftest import server, start_server, trained

__all__ = ["server", "start_server", "trained"]
