"""Decisions the executor returns; the apply layer turns them into rows and jobs."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orchestrator.engine.executor.snapshot import TaskRunView
from orchestrator.engine.states import State


@dataclass
class CreateTaskRun:
    run: TaskRunView
    enqueue: bool
    reason: str | None = None


@dataclass
class UpdateTaskRun:
    id: str
    old: State
    new: State
    outputs: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    # None keeps the timer as it is; use clear_wake to remove it.
    wake_at: datetime | None = None
    clear_wake: bool = False
    reason: str | None = None
    enqueue: bool = False
    # None keeps the attempts as they are (the executor writes them for Subflow task runs).
    attempts: list[dict[str, Any]] | None = None


@dataclass
class UpdateExecution:
    old: State
    new: State
    outputs: dict[str, Any] | None = None
    reason: str | None = None


@dataclass
class StartSubflow:
    taskrun_id: str
    execution_id: str
    namespace: str
    flow_id: str
    revision: int | None
    inputs: dict[str, Any]
    labels: dict[str, str]


@dataclass
class RetryExecution:
    """Create the execution that retries this one (retry behavior CREATE_NEW_EXECUTION):
    same flow revision, inputs and labels, attempt ``attempt`` of the chain, not started
    before ``start_at``. Its id is derived from this execution's, so applying twice is harmless."""

    execution_id: str
    start_at: datetime
    attempt: int
    chain_started: datetime


@dataclass
class LogLine:
    taskrun_id: str | None
    level: str
    message: str


Decision = CreateTaskRun | UpdateTaskRun | UpdateExecution | StartSubflow | RetryExecution | LogLine
