"""The public JSON shape of an execution (the CLI's --json, later the API)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flows.models import Execution, LogEntry, TaskRun
from orchestrator.engine.secrets import mask_inputs, mask_values, secret_values


def iso(value: datetime | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    text = value.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _history(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"state": e["state"], "date": iso(e["date"])} for e in entries]


def taskrun_json(row: TaskRun) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "taskId": row.task_id,
        "parentTaskRunId": str(row.parent_id) if row.parent_id else None,
        "value": row.value,
        "state": row.state,
        "stateHistory": _history(row.state_history),
        "attempts": [
            {"state": a["state"], "startDate": iso(a.get("startDate")), "endDate": iso(a.get("endDate"))}
            for a in row.attempts
        ],
        "outputs": row.outputs,
        "startDate": iso(row.start_date),
        "endDate": iso(row.end_date),
    }


def log_json(entry: LogEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "taskRunId": str(entry.taskrun_id) if entry.taskrun_id else None,
        "taskId": entry.task_id or None,
        "attempt": entry.attempt,
        "level": entry.level,
        "date": iso(entry.timestamp),
        "message": entry.message,
    }


def execution_json(exe: Execution, *, logs: bool = False) -> dict[str, Any]:
    runs = TaskRun.objects.filter(execution_id=exe.id).order_by("seq")
    secrets = secret_values(exe.inputs)
    data: dict[str, Any] = {
        "id": str(exe.id),
        "namespace": exe.namespace,
        "flowId": exe.flow_id,
        "revision": exe.revision_number,
        "state": exe.state,
        "stateHistory": _history(exe.state_history),
        "startDate": iso(exe.start_date),
        "endDate": iso(exe.end_date),
        "inputs": mask_inputs(exe.inputs),
        "outputs": mask_values(exe.outputs, secrets),
        "labels": exe.labels,
        "trigger": exe.trigger,
        "parentId": str(exe.parent_execution_id) if exe.parent_execution_id else None,
        "originalId": str(exe.original_execution_id) if exe.original_execution_id else None,
        "taskRuns": [_mask_taskrun(taskrun_json(r), secrets) for r in runs],
    }
    if logs:
        data["logs"] = [log_json(e) for e in LogEntry.objects.filter(execution_id=exe.id).order_by("seq")]
    return data


def _mask_taskrun(data: dict[str, Any], secrets: list[str]) -> dict[str, Any]:
    """Mask what the task run produced (its outputs, its loop value), never its ids, task
    id or state: a short secret may well be spelled like a task id."""
    return {**data, "outputs": mask_values(data["outputs"], secrets), "value": mask_values(data["value"], secrets)}
