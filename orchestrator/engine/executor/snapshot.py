"""What the executor sees of an execution: plain data, no ORM."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orchestrator.engine.states import State


@dataclass
class TaskRunView:
    id: str
    task_id: str
    parent_id: str | None
    value: str | None
    iteration: int | None
    key: str
    seq: int
    state: State
    attempts: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    wake_at: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    # Bookkeeping of the store: the row's version (a claim's guard) and the instance
    # running its current attempt.
    version: int = 0
    lease_owner: str = ""


@dataclass
class ExecutionView:
    id: str
    namespace: str
    flow_id: str
    revision: int
    state: State
    start_date: datetime
    inputs: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    trigger: dict[str, Any] | None = None
    original_id: str | None = None
    parent: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    taskruns: list[TaskRunView] = field(default_factory=list)
    # Other executions of the flow holding a concurrency slot (only counted when the flow
    # has a concurrency limit and this execution has not started yet).
    running_of_flow: int = 0
