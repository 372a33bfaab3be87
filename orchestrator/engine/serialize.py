"""The public JSON shape of an execution (the CLI's --json, later the API), read through the store."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from orchestrator.engine.journal import iso, log_payload, taskrun_payload
from orchestrator.engine.secrets import mask_inputs, mask_values, secret_values
from orchestrator.engine.store import ExecutionRow, Store


def _history(entries: list[tuple[str, datetime]]) -> list[dict[str, Any]]:
    return [{"state": state, "date": iso(date)} for state, date in entries]


def execution_json(store: Store, exe: ExecutionRow, *, logs: bool = False) -> dict[str, Any]:
    secrets = secret_values(exe.inputs)
    history, run_histories = store.histories(exe.id)
    runs = []
    for run in store.load_taskruns(exe.id):
        data = taskrun_payload(run)
        data = {**{k: data[k] for k in ("id", "taskId", "parentTaskRunId", "value", "state")},
                "stateHistory": _history(run_histories.get(run.id, [])), **data}
        runs.append(_mask_taskrun(data, secrets))
    data = {
        "id": exe.id,
        "namespace": exe.namespace,
        "flowId": exe.flow_id,
        "revision": exe.revision,
        "state": exe.state.value,
        "stateHistory": _history(history),
        "startDate": iso(exe.start_date),
        "endDate": iso(exe.end_date),
        "inputs": mask_inputs(exe.inputs),
        "outputs": mask_values(exe.outputs, secrets),
        "labels": exe.labels,
        "trigger": exe.trigger,
        "parentId": exe.parent_id,
        "originalId": exe.original_id,
        "taskRuns": runs,
    }
    if logs:
        data["logs"] = [log_payload(line) for line in store.logs(exe.id)]
    return data


def _mask_taskrun(data: dict[str, Any], secrets: list[str]) -> dict[str, Any]:
    """Mask what the task run produced (its outputs, its loop value), never its ids, task
    id or state: a short secret may well be spelled like a task id."""
    return {**data, "outputs": mask_values(data["outputs"], secrets), "value": mask_values(data["value"], secrets)}
