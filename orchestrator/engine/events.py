"""Events of executions, published after commit.

In-process waiters (a CLI command waiting for an execution) are woken at once; the
configured publisher (settings.CHOREO_EVENT_PUBLISHER) forwards events to the
realtime layer. Events carry the execution id and, for logs, the sequence number.
"""
from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class Publisher(Protocol):
    def publish(self, execution_id: str, event: dict[str, Any]) -> None: ...


class NullPublisher:
    """Publishes nowhere: the default until the realtime layer subscribes."""

    def publish(self, execution_id: str, event: dict[str, Any]) -> None:
        return None


@lru_cache(maxsize=1)
def publisher() -> Publisher:
    cls = import_string(settings.CHOREO_EVENT_PUBLISHER)
    instance: Publisher = cls()
    return instance


_changed = threading.Condition()
_generation = 0


def publish(execution_id: str, event: dict[str, Any]) -> None:
    global _generation
    publisher().publish(execution_id, event)
    with _changed:
        _generation += 1
        _changed.notify_all()


def generation() -> int:
    return _generation


def wait_for_change(seen: int, timeout: float) -> int:
    """Block until something was published after ``seen`` (or ``timeout``)."""
    with _changed:
        _changed.wait_for(lambda: _generation != seen, timeout=timeout)
        return _generation
