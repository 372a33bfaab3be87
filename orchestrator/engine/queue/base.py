"""The interface every queue backend implements, and the job it carries."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Job:
    """A runnable task run handed to a worker: a small reference, serialisable as JSON.

    The worker rebuilds everything else (the task, its expression context) from the store
    and the spec cache, so a job can leave the process (another machine, Celery).
    ``attempt`` is the attempt the executor expects the worker to start: a stale copy of
    a job never starts a second one.
    """

    execution_id: str
    taskrun_id: str
    revision_id: int
    attempt: int
    # In-process only, never serialised: the attempt already claimed by the executor pass
    # that created it, with its context (a worker.Assignment), for a worker of this process.
    prepared: Any = field(default=None, compare=False, repr=False)

    def to_json(self) -> str:
        return json.dumps({"execution_id": self.execution_id, "taskrun_id": self.taskrun_id,
                           "revision_id": self.revision_id, "attempt": self.attempt})

    @classmethod
    def from_json(cls, text: str) -> Job:
        data = json.loads(text)
        return cls(execution_id=str(data["execution_id"]), taskrun_id=str(data["taskrun_id"]),
                   revision_id=int(data["revision_id"]), attempt=int(data["attempt"]))


class QueueBackend(Protocol):
    def __init__(self, execute: Callable[[Job], None], threads: int) -> None: ...

    def start(self) -> None:
        """Begin taking jobs."""

    def submit(self, job: Job) -> None:
        """Hand a job to some worker; at-least-once (a worker's claim makes it exactly once)."""

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking jobs; let running ones finish for up to ``timeout`` seconds."""

    def drain(self) -> list[Job]:
        """Take back the jobs submitted in this process and not started yet."""

    def pending(self) -> int:
        """Jobs submitted and not started yet (in this process)."""

    def room(self) -> int:
        """How many more jobs workers of this process can take now: the executor claims
        that many attempts for them itself, in the pass that makes them runnable (0 for a
        backend whose workers are elsewhere: they claim through the store)."""
