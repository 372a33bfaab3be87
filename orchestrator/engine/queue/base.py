"""The interface every queue backend implements."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from orchestrator.engine.apply import Job


class QueueBackend(Protocol):
    def __init__(self, execute: Callable[[Job], None], threads: int) -> None: ...

    def start(self) -> None:
        """Begin taking jobs."""

    def submit(self, job: Job) -> None:
        """Hand a job to some worker; at-least-once (a worker's claim makes it exactly once)."""

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking jobs; let running ones finish for up to ``timeout`` seconds."""

    def pending(self) -> int:
        """Jobs submitted and not started yet (in this process)."""
