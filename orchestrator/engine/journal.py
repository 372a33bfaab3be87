"""The execution journal's entries and the event format built from them.

Every change of an execution gets a number in one per-execution sequence: its state,
each task run created or changed, each log line. The store allocates the numbers in the
transaction of the change; after commit the same entries go out as events:

    {"type": "execution" | "taskrun" | "log" | "end", "seq": N, "executionId": ID, "payload": {...}}

- ``execution``: the execution's id, state, dates, outputs and labels;
- ``taskrun``: the task run as in the CLI's JSON (without ``stateHistory``: an entry with
  a state *is* one step of that history);
- ``log``: the CLI's log object (its ``seq`` is the event's);
- ``end``: after the last entry of a terminal execution; payload: the final state.

Pure: no Django, no database. The store writes entries, readers turn rows back into events.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

EXECUTION = "execution"
TASKRUN = "taskrun"
LOG = "log"
END = "end"


def iso(value: datetime | str | None) -> str | None:
    """Dates as the CLI and the API print them: UTC, milliseconds, a ``Z``."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    text = value.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


@dataclass
class Entry:
    """One journal entry to write. ``state`` is set when the entry records a transition."""

    type: str
    date: datetime
    payload: dict[str, Any]
    taskrun_id: str | None = None
    state: str | None = None
    # Filled by the store when it writes the entry.
    seq: int = 0


@dataclass
class LogLine:
    """A log line to write: its stored row is its journal entry."""

    taskrun_id: str | None
    task_id: str
    attempt: int | None
    level: str
    timestamp: datetime
    message: str
    seq: int = 0


Item = Entry | LogLine


@dataclass
class Event:
    """What is published after commit (and what a reader of the journal gets back)."""

    type: str
    seq: int
    execution_id: str
    payload: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "seq": self.seq, "executionId": self.execution_id, "payload": self.payload}


def log_payload(line: LogLine) -> dict[str, Any]:
    return {
        "seq": line.seq,
        "taskRunId": line.taskrun_id,
        "taskId": line.task_id or None,
        "attempt": line.attempt,
        "level": line.level,
        "date": iso(line.timestamp),
        "message": line.message,
    }


def attempts_json(attempts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"state": a["state"], "startDate": iso(a.get("startDate")), "endDate": iso(a.get("endDate"))}
            for a in attempts]


def taskrun_payload(run: Any) -> dict[str, Any]:
    """A task run (a TaskRunView or anything with its fields) as in the CLI's JSON."""
    return {
        "id": run.id,
        "taskId": run.task_id,
        "parentTaskRunId": run.parent_id,
        "value": run.value,
        "state": run.state.value if hasattr(run.state, "value") else run.state,
        "attempts": attempts_json(run.attempts),
        "outputs": run.outputs,
        "startDate": iso(run.start_date),
        "endDate": iso(run.end_date),
    }


def execution_payload(execution_id: str, state: str, start_date: datetime | None, end_date: datetime | None,
                      outputs: dict[str, Any], labels: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": execution_id,
        "state": state,
        "startDate": iso(start_date),
        "endDate": iso(end_date),
        "outputs": outputs,
        "labels": labels,
    }


def to_events(execution_id: str, items: list[Item]) -> list[Event]:
    """The events of entries and log lines the store has numbered."""
    events = []
    for item in items:
        if isinstance(item, LogLine):
            events.append(Event(LOG, item.seq, execution_id, log_payload(item)))
        else:
            events.append(Event(item.type, item.seq, execution_id, item.payload))
    return events
