"""Steering executions: resume, kill, restart, replay."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from orchestrator.engine.bus import KILL, WAKE
from orchestrator.engine.dsl import resolve_inputs
from orchestrator.engine.errors import ExecutionNotFound, NotAllowed
from orchestrator.engine.executor.keys import taskrun_id
from orchestrator.engine.executor.snapshot import TaskRunView
from orchestrator.engine.infra import infra
from orchestrator.engine.journal import Event
from orchestrator.engine.services.executions import get_execution, start
from orchestrator.engine.states import State
from orchestrator.engine.store import ExecutionChange, ExecutionRow, NewExecution, RunChange
from orchestrator.engine.system_labels import CORRELATION_ID, REPLAY, RESTARTED, correlation_id


def _locked(execution_id: str, now: datetime) -> ExecutionRow:
    exe = infra().store.lock_execution(get_execution(execution_id).id, now)
    if exe is None:
        raise ExecutionNotFound(f"No execution with id {execution_id}")
    return exe


def resume(execution_id: str, inputs: Mapping[str, Any]) -> tuple[ExecutionRow, bool]:
    """Resume the paused task runs with ``inputs`` (validated against ``onResume``).

    Returns (execution, resumed); resumed is False when there was nothing paused
    (resuming twice is a no-op, not an error).
    """
    parts = infra()
    now = timezone.now()
    with transaction.atomic():
        exe = _locked(execution_id, now)
        paused = [r for r in parts.store.load_taskruns(exe.id) if r.state == State.PAUSED]
        if not paused:
            return exe, False
        spec = parts.specs.get(exe.revision_id)
        changes = []
        for run in paused:
            definitions = getattr(spec.task(run.task_id), "onResume", None) or []
            values = resolve_inputs(definitions, dict(inputs), for_resume=True)
            run.meta = {**run.meta, "resumed": True, "resumed_at": now.isoformat()}
            run.outputs = {**run.outputs, "onResume": values}
            run.state, run.wake_at = State.RUNNING, None
            changes.append(RunChange(run, expect=State.PAUSED, path=[State.RUNNING]))
        result = parts.store.commit(exe.id, now, runs=changes)
        parts.bus.send(WAKE, exe.id)
    parts.publish(result.events)
    return exe, True


def kill(execution_id: str) -> tuple[ExecutionRow, bool]:
    """Ask an execution (and its subflow executions) to stop. False if already over."""
    parts = infra()
    now = timezone.now()
    events: list[Event] = []
    with transaction.atomic():
        exe = _locked(execution_id, now)
        killed = _kill(exe, now, events)
    parts.publish(events)
    return exe, killed


def _kill(exe: ExecutionRow, now: datetime, events: list[Event]) -> bool:
    parts = infra()
    if exe.state.is_terminal or exe.state == State.KILLING:
        return False
    result = parts.store.commit(exe.id, now, execution=ExecutionChange([State.KILLING], expect=exe.state))
    events.extend(result.events)
    parts.bus.send(KILL, exe.id)
    for child_id, _state in parts.store.child_executions(exe.id):
        child = parts.store.lock_execution(child_id, now)
        if child is not None:
            _kill(child, now, events)
    return True


def restart(execution_id: str) -> ExecutionRow:
    """Run a FAILED or KILLED execution again from its failed task runs (same execution)."""
    parts = infra()
    now = timezone.now()
    with transaction.atomic():
        exe = _locked(execution_id, now)
        if exe.state not in (State.FAILED, State.KILLED):
            raise NotAllowed(f"Execution {exe.id} is {exe.state.value}: only FAILED or KILLED executions restart")
        spec = parts.specs.get(exe.revision_id)
        runs = _drop_error_branches(exe.id, spec, parts.store.load_taskruns(exe.id))
        changes = []
        for run in runs:
            if run.state not in (State.FAILED, State.KILLED):
                continue
            expect = run.state
            if spec.task(run.task_id).is_flowable:
                run.meta = _restart_meta(run, runs)
                run.state, run.wake_at, run.end_date = State.RUNNING, None, None
                changes.append(RunChange(run, expect=expect, path=[State.RESTARTED, State.RUNNING]))
            else:
                run.state, run.lease_owner, run.end_date = State.RESTARTED, "", None
                changes.append(RunChange(run, expect=expect, path=[State.RESTARTED]))
        meta = {**exe.meta, "restarts": int(exe.meta.get("restarts", 0)) + 1}
        fields = {"meta": meta, "labels": {**exe.labels, RESTARTED: "true"}}
        result = parts.store.commit(
            exe.id, now, runs=changes,
            execution=ExecutionChange([State.RESTARTED], expect=exe.state, fields=fields, version=exe.version),
        )
        parts.bus.send(WAKE, exe.id)
    parts.publish(result.events)
    return get_execution(exe.id)


def _drop_error_branches(execution_id: str, spec: Any, runs: list[TaskRunView]) -> list[TaskRunView]:
    """Task runs of ``errors`` branches are dropped (they run again if the restart fails
    again); returns the runs that remain."""
    error_ids = {t.id for t in _error_tasks(spec)}
    doomed = {r.id for r in runs if r.task_id in error_ids}
    changed = True
    while changed:
        changed = False
        for r in runs:
            if r.id not in doomed and r.parent_id in doomed:
                doomed.add(r.id)
                changed = True
    infra().store.delete_taskruns(execution_id, sorted(doomed))
    return [r for r in runs if r.id not in doomed]


def _error_tasks(spec: Any) -> list[Any]:
    found: list[Any] = []
    for top in spec.errors or []:
        found.extend(top.walk())
    for task in spec.walk_tasks():
        for name, children in task.child_lists().items():
            if name == "errors":
                for child in children:
                    found.extend(child.walk())
    return found


def _restart_meta(run: TaskRunView, runs: list[TaskRunView]) -> dict[str, Any]:
    failed_children = any(r.parent_id == run.id and r.state in (State.FAILED, State.KILLED) for r in runs)
    if failed_children:
        return {k: v for k, v in run.meta.items() if k not in ("child", "error")}
    # The flowable failed by itself (no case matched, a subflow failed...): decide again.
    return {"restarts": int(run.meta.get("restarts", 0)) + 1}


def replay(execution_id: str, from_task: str, owner: str = "") -> ExecutionRow:
    """A new execution that reuses the task runs before ``from_task`` and runs from there."""
    parts = infra()
    original = get_execution(execution_id)
    runs = parts.store.load_taskruns(original.id)
    target = next((r for r in runs if r.task_id == from_task), None)
    if target is None:
        raise NotAllowed(f"Execution {original.id} has no task run of task {from_task!r} to replay from")
    by_id = {r.id: r for r in runs}
    ancestors: set[str] = set()
    parent = by_id.get(target.parent_id) if target.parent_id else None
    while parent is not None:
        ancestors.add(parent.id)
        parent = by_id.get(parent.parent_id) if parent.parent_id else None
    now = timezone.now()
    new = NewExecution(
        id=str(uuid.uuid4()), revision_id=original.revision_id, revision=original.revision,
        namespace=original.namespace, flow_id=original.flow_id, inputs=original.inputs,
        # As Kestra: the original's labels (so its correlation id) and system.replay.
        labels={**original.labels, CORRELATION_ID: correlation_id(original.labels, original.id), REPLAY: "true"},
        trigger={"type": "replay", "executionId": original.id, "fromTask": from_task}, original_id=original.id,
        owner=owner,
    )
    new_ids: dict[str, str] = {}
    for r in runs:
        keep = r.id in ancestors or (r.seq < target.seq and (r.parent_id is None or r.parent_id in new_ids)
                                     and r.state.is_terminal)
        if not keep or r.id == target.id:
            continue
        parent_id = new_ids.get(r.parent_id) if r.parent_id else None
        key = f"{parent_id or ''}/{r.task_id}/{'' if r.iteration is None else r.iteration}"
        new_ids[r.id] = taskrun_id(new.id, key)
        running = r.id in ancestors
        new.taskruns.append(TaskRunView(
            id=new_ids[r.id], task_id=r.task_id, parent_id=parent_id, value=r.value, iteration=r.iteration, key=key,
            seq=r.seq, state=State.RUNNING if running else r.state, attempts=r.attempts,
            outputs={} if running else r.outputs,
            meta={k: v for k, v in r.meta.items() if k in ("values", "case", "branch")} if running else r.meta,
            start_date=r.start_date if not running else now, end_date=None if running else r.end_date,
        ))
    return start(new)
