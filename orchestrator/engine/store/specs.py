"""Parsed flow specs, cached by revision id: a revision's text never changes, so starting
or advancing an execution neither re-reads nor re-parses it."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Protocol

from orchestrator.engine.dsl import parse_flow

MAX_SPECS = 2048


class InvalidStoredFlow(Exception):
    """A stored revision no longer validates (for example a task type was removed)."""


class _Sources(Protocol):
    def revision_source(self, revision_id: int) -> str: ...


class SpecCache:
    def __init__(self, sources: _Sources, size: int = MAX_SPECS) -> None:
        self._sources = sources
        self._size = size
        self._specs: OrderedDict[int, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, revision_id: int, source: str | None = None) -> Any:
        with self._lock:
            spec = self._specs.get(revision_id)
            if spec is not None:
                self._specs.move_to_end(revision_id)
                return spec
        if source is None:
            source = self._sources.revision_source(revision_id)
        result = parse_flow(source, f"revision {revision_id}")
        if result.flow is None:
            raise InvalidStoredFlow("; ".join(e.format() for e in result.errors))
        with self._lock:
            self._specs[revision_id] = result.flow
            while len(self._specs) > self._size:
                self._specs.popitem(last=False)
        return result.flow

    def clear(self) -> None:
        with self._lock:
            self._specs.clear()
