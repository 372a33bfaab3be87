"""Publishing the journal's events after commit (the format is in journal.py).

The configured publisher (settings.CHOREO_EVENT_PUBLISHER, a dotted path) forwards them
to the realtime layer; ``Changes`` lets a waiter in the same process (a CLI command
following an execution) sleep until something was published.
"""
from __future__ import annotations

import threading
from typing import Any, Protocol

from orchestrator.engine.journal import Event


class Publisher(Protocol):
    def publish(self, event: dict[str, Any]) -> None:
        """Forward one event (``{"type", "seq", "executionId", "payload"}``)."""


class NullPublisher:
    """Publishes nowhere: the default until the realtime layer subscribes."""

    def publish(self, event: dict[str, Any]) -> None:
        return None


def publish(publisher: Publisher, changes: Changes, events: list[Event]) -> None:
    """Hand events to the publisher and wake local waiters (call after commit)."""
    if not events:
        return
    for event in events:
        publisher.publish(event.as_json())
    changes.bump()


class Changes:
    """A generation counter waiters block on: bumped for every batch published."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._generation = 0

    def bump(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    @property
    def generation(self) -> int:
        return self._generation

    def wait(self, seen: int, timeout: float) -> int:
        """Block until something was published after ``seen`` (or ``timeout``)."""
        with self._cond:
            self._cond.wait_for(lambda: self._generation != seen, timeout=timeout)
            return self._generation
