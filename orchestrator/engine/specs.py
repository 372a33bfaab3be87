"""Parsed flow specs, cached by revision: a revision's text never changes."""
from __future__ import annotations

import threading
from typing import Any

from flows.models import FlowRevision
from orchestrator.engine.dsl import parse_flow


class InvalidStoredFlow(Exception):
    """A stored revision no longer validates (for example a task type was removed)."""


_cache: dict[int, Any] = {}
_lock = threading.Lock()


def spec_for_revision(revision_id: int, source: str | None = None) -> Any:
    spec = _cache.get(revision_id)
    if spec is not None:
        return spec
    if source is None:
        source = FlowRevision.objects.values_list("source", flat=True).get(id=revision_id)
    result = parse_flow(source, f"revision {revision_id}")
    if result.flow is None:
        raise InvalidStoredFlow("; ".join(e.format() for e in result.errors))
    with _lock:
        if len(_cache) > 2048:
            _cache.clear()
        _cache[revision_id] = result.flow
    return result.flow
