"""The one door for state changes of executions and task runs.

Every change is a conditional update on the state the caller saw: a row count of 0
means another process changed it first, which callers treat as "lost the race", not
as an error. Terminal states are never overwritten (see states.ALLOWED).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import F

from flows.models import Execution, TaskRun
from orchestrator.engine.states import IllegalTransition, State, can_transition


def _history(history: list[dict[str, Any]], old: State, new: State, now: datetime) -> list[dict[str, Any]]:
    if old == new:
        return history
    return [*history, {"state": new.value, "date": now.isoformat()}]


def change_taskrun(
    row: TaskRun, new: State, now: datetime, *, expect: State | None = None, **fields: Any
) -> bool:
    """Move ``row`` to ``new`` if it is still in ``expect`` (default: its current state)."""
    old = State(expect or row.state)
    if old != new and not can_transition(old, new):
        raise IllegalTransition(old, new)
    guard: dict[str, Any] = {"id": row.id, "state": old.value}
    if "_lease_owner" in fields:
        # A worker reporting the end of its attempt must still hold the lease.
        guard["lease_owner"] = fields.pop("_lease_owner")
    values: dict[str, Any] = {"state": new.value, **fields}
    history = _history(row.state_history, old, new, now)
    if history is not row.state_history:
        values["state_history"] = history
    if new.is_terminal and old != new:
        values.setdefault("end_date", now)
    count = TaskRun.objects.filter(**guard).update(**values, version=F("version") + 1)
    if count:
        for name, value in values.items():
            setattr(row, name, value)
        # A best guess: a wrong one only makes the next executor pass refetch the row.
        row.version = (row.version or 0) + 1
    return bool(count)


def change_execution(
    row: Execution, new: State, now: datetime, *, expect: State | None = None,
    through: tuple[State, ...] = (), bump_version: bool = False, **fields: Any
) -> bool:
    """Move ``row`` to ``new`` (recording the ``through`` states on the way).

    With ``bump_version`` the update also requires the version the caller read and
    increments it: an executor pass that lost a race to another process writes nothing.
    """
    old = State(expect or row.state)
    path = [old, *through, new]
    for a, b in zip(path, path[1:]):
        if a != b and not can_transition(a, b):
            raise IllegalTransition(a, b)
    values: dict[str, Any] = {"state": new.value, **fields}
    history = row.state_history
    for a, b in zip(path, path[1:]):
        history = _history(history, a, b, now)
    if history is not row.state_history:
        values["state_history"] = history
    if new.is_terminal and old != new:
        values.setdefault("end_date", now)
    if new == State.RESTARTED:
        values["end_date"] = None
    guard: dict[str, Any] = {"id": row.id, "state": old.value}
    if bump_version:
        guard["version"] = row.version
        values["version"] = row.version + 1
    count = Execution.objects.filter(**guard).update(**values)
    if count:
        for name, value in values.items():
            setattr(row, name, value)
    return bool(count)

