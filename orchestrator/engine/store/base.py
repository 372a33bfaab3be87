"""What the engine reads and writes, as plain data, and the contract of the store.

Every change of an execution or its task runs goes through ``Store.commit``: one door
that checks each transition against states.ALLOWED, writes with conditional updates
(state, version, lease), numbers every change in the execution's journal in the same
transaction, and returns the events to publish after commit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from orchestrator.engine.executor.snapshot import TaskRunView
from orchestrator.engine.journal import Entry, Event, LogLine
from orchestrator.engine.states import State
from orchestrator.engine.store.flows import FlowRef, RevisionRef


class Conflict(Exception):
    """A guard failed: another process changed the row first. Read again and retry."""


@dataclass
class ExecutionRow:
    id: str
    revision_id: int
    revision: int
    namespace: str
    flow_id: str
    state: State
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    labels: dict[str, Any]
    trigger: dict[str, Any] | None
    parent_id: str | None
    parent_taskrun_id: str | None
    original_id: str | None
    start_date: datetime
    end_date: datetime | None
    version: int
    seq: int
    owner: str
    wake_at: datetime | None
    meta: dict[str, Any]
    # Whether ``owner`` is a live instance (only filled by Store.lock_execution).
    owner_alive: bool = False


@dataclass
class NewExecution:
    """An execution to create (by a user, a subflow task, a retry, a replay)."""

    id: str
    revision_id: int
    revision: int
    namespace: str
    flow_id: str
    inputs: dict[str, Any]
    labels: dict[str, Any]
    trigger: dict[str, Any] | None = None
    parent_id: str | None = None
    parent_taskrun_id: str | None = None
    original_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    # The engine instance creating it, which then advances it ("" lets any engine).
    owner: str = ""
    # Not before this moment (a retry in a new execution waits its delay).
    wake_at: datetime | None = None
    # When it starts, if not now (a retry in a new execution starts after its delay).
    start_date: datetime | None = None
    # Task runs it starts with (a replay copies those before the replayed task).
    taskruns: list[TaskRunView] = field(default_factory=list)


@dataclass
class RunChange:
    """A change of one task run: ``run`` holds the values to write.

    ``path`` lists the states passed through (empty when the state does not change); the
    run's state becomes its last. The write is guarded by ``expect`` (and ``expect_version``,
    ``expect_lease`` when set); a lost guard raises Conflict unless ``required`` is False,
    in which case the change is skipped and listed in CommitResult.skipped.
    """

    run: TaskRunView
    expect: State
    path: list[State] = field(default_factory=list)
    expect_version: int | None = None
    expect_lease: str | None = None
    required: bool = True


@dataclass
class ExecutionChange:
    """A change of the execution row. ``path`` as in RunChange; ``fields`` are column
    values (outputs, labels, meta, wake_at, owner, end_date); ``merge_labels`` adds labels
    to the current ones."""

    path: list[State] = field(default_factory=list)
    expect: State | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    merge_labels: dict[str, str] | None = None
    # Require the version read, and bump it (an executor pass, a restart).
    version: int | None = None


@dataclass
class CommitResult:
    events: list[Event]
    # The execution after the commit.
    seq: int
    version: int
    state: State
    labels: dict[str, Any] | None = None
    skipped: list[str] = field(default_factory=list)


@dataclass
class Claim:
    """A task run a worker claimed, with what it needs to build its context."""

    run: TaskRunView
    attempt: int
    # The run's ancestors, nearest first.
    ancestors: list[TaskRunView]
    execution: ExecutionRow
    events: list[Event]


@dataclass
class LostAttempt:
    taskrun_id: str
    execution_id: str
    lease_owner: str


class Store(Protocol):
    """Everything the engine reads and writes on its hot path (see store.sql.SqlStore)."""

    @property
    def vendor(self) -> str:
        """The database: "sqlite" or "postgresql"."""

    # --- executions -------------------------------------------------------------------
    def create_execution(self, new: NewExecution, now: datetime) -> list[Event]: ...
    def get_execution(self, execution_id: str) -> ExecutionRow | None: ...
    def lock_execution(self, execution_id: str, now: datetime) -> ExecutionRow | None: ...
    def load_taskruns(self, execution_id: str) -> list[TaskRunView]: ...
    def changed_taskruns(self, execution_id: str, since_seq: int) -> list[TaskRunView]: ...
    def get_taskruns(self, ids: list[str]) -> list[TaskRunView]: ...
    def commit(self, execution_id: str, now: datetime, *, execution: ExecutionChange | None = None,
               created: list[tuple[TaskRunView, list[State]]] | None = None,
               runs: list[RunChange] | None = None, logs: list[LogLine] | None = None,
               entries: list[Entry] | None = None) -> CommitResult: ...
    def delete_taskruns(self, execution_id: str, ids: list[str]) -> None: ...
    def delete_execution(self, execution_id: str) -> None: ...
    def child_executions(self, execution_id: str) -> list[tuple[str, State]]: ...
    def retried_by(self, execution_id: str) -> ExecutionRow | None: ...

    # --- workers ----------------------------------------------------------------------
    def claim(self, taskrun_id: str, owner: str, now: datetime,
              expect_attempt: int | None = None) -> Claim | None: ...
    def error_logs(self, execution_id: str, limit: int = 100) -> list[dict[str, Any]]: ...

    # --- flows and concurrency ----------------------------------------------------------
    def revision_source(self, revision_id: int) -> str: ...
    def current_revision(self, namespace: str, flow_id: str,
                         number: int | None = None) -> tuple[int, int, bool] | None: ...
    def holding_slots(self, namespace: str, flow_id: str, exclude: str) -> int: ...
    def oldest_queued(self, namespace: str, flow_id: str) -> str | None: ...

    # --- instances, ownership and scans ---------------------------------------------------
    def register_instance(self, instance_id: str, kind: str, host: str, pid: int, now: datetime) -> None: ...
    def heartbeat(self, instance_id: str, now: datetime) -> bool: ...
    def deregister_instance(self, instance_id: str) -> None: ...
    def release_executions(self, owner: str) -> list[str]: ...
    def orphaned_executions(self, now: datetime, limit: int = 200) -> list[tuple[str, str]]: ...
    def owned_heads(self, owner: str) -> list[tuple[str, int]]: ...
    def due_timers(self, now: datetime, owner: str, limit: int = 500) -> list[str]: ...
    def lost_attempts(self, now: datetime, limit: int = 100) -> list[LostAttempt]: ...
    def stale_runnable(self, owner: str, before: datetime, limit: int = 200) -> list[str]: ...
    def checkpoint(self) -> None: ...

    # --- the journal, for readers ---------------------------------------------------------
    def events_since(self, execution_id: str, since_seq: int, limit: int = 1000) -> list[Event]: ...
    def histories(self, execution_id: str) -> tuple[list[tuple[str, datetime]],
                                                   dict[str, list[tuple[str, datetime]]]]: ...
    def logs(self, execution_id: str, since_seq: int = 0, limit: int | None = None) -> list[LogLine]: ...

    # --- flows ----------------------------------------------------------------------------
    def save_revision(self, namespace: str, flow_id: str, text: str, checksum: str, author: str,
                      disabled: bool) -> tuple[FlowRef, RevisionRef, bool]: ...

    # --- the table bus ---------------------------------------------------------------------
    def send_signal(self, kind: str, target: str, sender: str, now: datetime) -> None: ...
    def signals_after(self, last_id: int, limit: int = 500) -> list[tuple[int, str, str, str]]: ...
    def last_signal_id(self) -> int: ...
    def prune_signals(self, before: datetime) -> None: ...
