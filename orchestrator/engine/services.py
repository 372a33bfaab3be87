"""What users do to flows and executions. The CLI and the API call these, nothing lower.

Each function validates, changes rows through the state door inside one transaction,
and wakes the engine after commit.
"""
from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from flows.models import Execution, Flow, FlowRevision, TaskRun
from orchestrator.engine import runtime
from orchestrator.engine.dsl import FlowIssue, InputError, parse_flow, resolve_inputs
from orchestrator.engine.executor.decide import taskrun_id
from orchestrator.engine.executor.retries import CHAIN_ATTEMPT, CHAIN_STARTED, NOT_BEFORE, RETRY_OF
from orchestrator.engine.secrets import seal_inputs
from orchestrator.engine.specs import spec_for_revision
from orchestrator.engine.storage import SCHEME, execution_prefix, storage, task_uri
from orchestrator.engine.states import State
from orchestrator.engine.system_labels import CORRELATION_ID, REPLAY, RESTARTED, correlation_id
from orchestrator.engine.transitions import change_execution, change_taskrun


class ServiceError(Exception):
    """A user error: the message says what is wrong and what to do."""


class FlowNotFound(ServiceError):
    pass


class ExecutionNotFound(ServiceError):
    pass


class InvalidFlow(ServiceError):
    def __init__(self, issues: list[FlowIssue]) -> None:
        super().__init__("; ".join(i.format() for i in issues))
        self.issues = issues


class NotAllowed(ServiceError):
    pass


@dataclass
class Deployed:
    flow: Flow
    revision: FlowRevision
    created: bool
    warnings: list[FlowIssue] = field(default_factory=list)


def deploy(text: str, source: str = "<flow>", author: str = "") -> Deployed:
    """Store ``text`` as the flow's new revision, unless it is the current text already."""
    result = parse_flow(text, source)
    if result.flow is None:
        raise InvalidFlow(result.errors)
    spec = result.flow
    checksum = hashlib.sha256(text.encode()).hexdigest()
    with transaction.atomic():
        flow, _ = Flow.objects.select_for_update().get_or_create(namespace=spec.namespace, flow_id=spec.id)
        current = flow.revisions.filter(number=flow.revision).first()
        if current is not None and current.checksum == checksum and not flow.deleted:
            return Deployed(flow, current, False, result.warnings)
        number = flow.revision + 1
        revision = FlowRevision.objects.create(flow=flow, number=number, source=text, checksum=checksum, author=author)
        flow.revision = number
        flow.deleted = False
        flow.disabled = bool(spec.disabled)
        flow.save(update_fields=["revision", "deleted", "disabled", "updated_at"])
    return Deployed(flow, revision, True, result.warnings)


def get_execution(execution_id: str) -> Execution:
    try:
        uuid.UUID(str(execution_id))
    except ValueError:
        raise ExecutionNotFound(f"No execution with id {execution_id!r}: ids look like 1b4e28ba-2fa1-11d2-883f-...") from None
    exe = Execution.objects.filter(id=execution_id).first()
    if exe is None:
        raise ExecutionNotFound(f"No execution with id {execution_id}")
    return exe


def create_execution(
    namespace: str, flow_id: str, inputs: Mapping[str, Any], *, revision: int | None = None,
    labels: Mapping[str, str] | None = None, execution_id: str | None = None, parent: Execution | None = None,
    parent_taskrun_id: str | None = None, trigger: dict[str, Any] | None = None,
    original: Execution | None = None, meta: dict[str, Any] | None = None, wake: bool = True,
) -> Execution:
    """Start an execution of the flow's current (or given) revision. Raises InputError on bad inputs."""
    flow = Flow.objects.filter(namespace=namespace, flow_id=flow_id, deleted=False).first()
    if flow is None:
        raise FlowNotFound(f"No flow {namespace}.{flow_id}: deploy it first (flows deploy FILE)")
    if flow.disabled:
        raise NotAllowed(f"Flow {namespace}.{flow_id} is disabled")
    number = revision or flow.revision
    rev = FlowRevision.objects.filter(flow=flow, number=number).first()
    if rev is None:
        raise FlowNotFound(f"Flow {namespace}.{flow_id} has no revision {number}")
    spec = spec_for_revision(rev.id, rev.source)
    values = resolve_inputs(spec.inputs or [], dict(inputs))
    execution_id = execution_id or str(uuid.uuid4())
    values = _upload_files(spec, values, namespace, flow_id, execution_id)
    all_labels = {**(spec.labels or {}), **dict(labels or {})}
    # The first execution of a chain is its own correlation id; subflows pass theirs on.
    all_labels.setdefault(CORRELATION_ID, execution_id)
    secret_ids = [i.id for i in spec.inputs or [] if str(i.type).upper().endswith("SECRET")]
    now = timezone.now()
    exe = Execution.objects.create(
        id=execution_id,
        revision=rev,
        revision_number=rev.number,
        namespace=namespace,
        flow_id=flow_id,
        state=State.CREATED.value,
        state_history=[{"state": State.CREATED.value, "date": now.isoformat()}],
        inputs=seal_inputs(values, secret_ids),
        labels=all_labels,
        trigger=trigger,
        parent_execution=parent,
        parent_taskrun_id=parent_taskrun_id,
        original_execution=original,
        start_date=now,
        meta=meta or {},
    )
    if wake:
        transaction.on_commit(lambda: runtime.wake(str(exe.id)))
    return exe


def create_retry_execution(failed: Execution, start_at: datetime, attempt: int, chain_started: datetime) -> Execution:
    """The execution that retries ``failed`` (retry behavior CREATE_NEW_EXECUTION): the same
    flow revision, inputs (as stored), labels, trigger and parent task run, attempt
    ``attempt`` of the chain, CREATED with a timer so it starts at ``start_at``, not before."""
    retry_id = uuid.uuid5(uuid.UUID(str(failed.id)), f"retry/{attempt}")
    existing = Execution.objects.filter(id=retry_id).first()
    if existing is not None:
        return existing  # this decision was applied before
    now = timezone.now()
    return Execution.objects.create(
        id=retry_id, revision_id=failed.revision_id, revision_number=failed.revision_number,
        namespace=failed.namespace, flow_id=failed.flow_id, state=State.CREATED.value,
        state_history=[{"state": State.CREATED.value, "date": now.isoformat()}], inputs=failed.inputs,
        labels={**failed.labels, CORRELATION_ID: correlation_id(failed.labels, str(failed.id))},
        trigger=failed.trigger, parent_execution_id=failed.parent_execution_id,
        # It starts when its timer fires, not before (its state history shows when it was created).
        parent_taskrun_id=failed.parent_taskrun_id, original_execution=failed, start_date=start_at, wake_at=start_at,
        meta={**{k: v for k, v in failed.meta.items() if k == "depth"}, CHAIN_ATTEMPT: attempt,
              CHAIN_STARTED: chain_started.isoformat(), RETRY_OF: str(failed.id), NOT_BEFORE: start_at.isoformat()},
    )


def retried_by(exe: Execution) -> Execution | None:
    """The execution that retries ``exe`` (when it ended RETRIED), if it exists yet."""
    if exe.state != State.RETRIED.value:
        return None
    return Execution.objects.filter(original_execution_id=exe.id, meta__retry_of=str(exe.id)).first()


def _upload_files(spec: Any, values: dict[str, Any], namespace: str, flow_id: str,
                  execution_id: str) -> dict[str, Any]:
    """FILE inputs given as a local path are copied into internal storage (as an upload is)."""
    result = dict(values)
    for definition in spec.inputs or []:
        value = result.get(definition.id)
        if str(definition.type) != "FILE" or not isinstance(value, str) or value.startswith(SCHEME):
            continue
        path = Path(value).expanduser()
        if not path.is_file():
            raise InputError([f"Invalid input '{definition.id}': no file at {value}"])
        uri = task_uri(namespace, flow_id, execution_id, "inputs", definition.id, path.name)
        result[definition.id] = storage().put(uri, path)
    return result


def purge(execution_id: str) -> int:
    """Delete an execution (and its subflow executions), their logs and stored files."""
    exe = get_execution(execution_id)
    if not State(exe.state).is_terminal:
        raise NotAllowed(f"Execution {exe.id} is {exe.state}: kill it or wait for its end before purging")
    removed = storage().delete_prefix(execution_prefix(exe.namespace, exe.flow_id, str(exe.id)))
    for child in Execution.objects.filter(parent_execution=exe):
        if State(child.state).is_terminal:
            removed += purge(str(child.id))
    exe.delete()
    return removed


def resume(execution_id: str, inputs: Mapping[str, Any]) -> tuple[Execution, bool]:
    """Resume the paused task runs with ``inputs`` (validated against ``onResume``).

    Returns (execution, resumed); resumed is False when there was nothing paused
    (resuming twice is a no-op, not an error).
    """
    with transaction.atomic():
        exe = Execution.objects.select_for_update().filter(id=get_execution(execution_id).id).get()
        paused = list(TaskRun.objects.filter(execution_id=exe.id, state=State.PAUSED.value).order_by("seq"))
        if not paused:
            return exe, False
        spec = spec_for_revision(exe.revision_id)
        now = timezone.now()
        resumed = False
        for row in paused:
            task = spec.task(row.task_id)
            definitions = getattr(task, "onResume", None) or []
            values = resolve_inputs(definitions, dict(inputs), for_resume=True)
            meta = {**row.meta, "resumed": True, "resumed_at": now.isoformat()}
            outputs = {**row.outputs, "onResume": values}
            resumed |= change_taskrun(row, State.RUNNING, now, expect=State.PAUSED, meta=meta, outputs=outputs,
                                      wake_at=None)
    if resumed:
        runtime.wake(str(exe.id))
    return exe, resumed


def kill(execution_id: str) -> tuple[Execution, bool]:
    """Ask an execution (and its subflow executions) to stop. False if already over."""
    with transaction.atomic():
        exe = get_execution(execution_id)
        killed = _kill(exe, timezone.now())
    if killed:
        runtime.kill_signal(str(exe.id))
    return exe, killed


def _kill(exe: Execution, now: Any) -> bool:
    state = State(exe.state)
    if state.is_terminal or state == State.KILLING:
        return False
    if not change_execution(exe, State.KILLING, now, expect=state):
        exe.refresh_from_db()
        return _kill(exe, now)
    for child in Execution.objects.filter(parent_execution=exe):
        _kill(child, now)
    transaction.on_commit(lambda: runtime.wake(str(exe.id)))
    return True


def restart(execution_id: str) -> Execution:
    """Run a FAILED or KILLED execution again from its failed task runs (same execution)."""
    with transaction.atomic():
        exe = Execution.objects.select_for_update().filter(id=get_execution(execution_id).id).get()
        state = State(exe.state)
        if state not in (State.FAILED, State.KILLED):
            raise NotAllowed(f"Execution {exe.id} is {state.value}: only FAILED or KILLED executions restart")
        spec = spec_for_revision(exe.revision_id)
        now = timezone.now()
        rows = _drop_error_branches(spec, list(TaskRun.objects.filter(execution_id=exe.id).order_by("seq")))
        for row in rows:
            if row.state not in (State.FAILED.value, State.KILLED.value):
                continue
            task = spec.task(row.task_id)
            if task.is_flowable:
                meta = _restart_meta(row, rows)
                change_taskrun(row, State.RESTARTED, now, meta=meta, wake_at=None)
                change_taskrun(row, State.RUNNING, now, end_date=None)
            else:
                change_taskrun(row, State.RESTARTED, now, lease_owner="", lease_expires=None, end_date=None)
        change_execution(exe, State.RESTARTED, now, meta={**exe.meta, "restarts": exe.meta.get("restarts", 0) + 1},
                         labels={**exe.labels, RESTARTED: "true"})
    runtime.wake(str(exe.id), requeue=True)
    return exe


def _drop_error_branches(spec: Any, rows: list[TaskRun]) -> list[TaskRun]:
    """Task runs of ``errors`` branches are dropped (they run again if the restart fails
    again); returns the rows that remain."""
    error_ids = {t.id for t in _error_tasks(spec)}
    doomed = {r.id for r in rows if r.task_id in error_ids}
    changed = True
    while changed:
        changed = False
        for r in rows:
            if r.id not in doomed and r.parent_id in doomed:
                doomed.add(r.id)
                changed = True
    if doomed:
        TaskRun.objects.filter(id__in=doomed).delete()
    return [r for r in rows if r.id not in doomed]


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


def _restart_meta(row: TaskRun, rows: list[TaskRun]) -> dict[str, Any]:
    failed_children = any(
        r.parent_id == row.id and r.state in (State.FAILED.value, State.KILLED.value) for r in rows
    )
    if failed_children:
        return {k: v for k, v in row.meta.items() if k not in ("child", "error")}
    # The flowable failed by itself (no case matched, a subflow failed...): decide again.
    restarts = int(row.meta.get("restarts", 0)) + 1
    return {"restarts": restarts}


def replay(execution_id: str, from_task: str) -> Execution:
    """A new execution that reuses the task runs before ``from_task`` and runs from there."""
    with transaction.atomic():
        original = get_execution(execution_id)
        rows = list(TaskRun.objects.filter(execution_id=original.id).order_by("seq"))
        target = next((r for r in rows if r.task_id == from_task), None)
        if target is None:
            raise NotAllowed(f"Execution {original.id} has no task run of task {from_task!r} to replay from")
        by_id = {r.id: r for r in rows}
        ancestors: set[Any] = set()
        parent = by_id.get(target.parent_id) if target.parent_id else None
        while parent is not None:
            ancestors.add(parent.id)
            parent = by_id.get(parent.parent_id) if parent.parent_id else None
        now = timezone.now()
        exe = Execution.objects.create(
            id=uuid.uuid4(), revision_id=original.revision_id, revision_number=original.revision_number,
            namespace=original.namespace, flow_id=original.flow_id, state=State.CREATED.value,
            state_history=[{"state": State.CREATED.value, "date": now.isoformat()}], inputs=original.inputs,
            # As Kestra: the original's labels (so its correlation id) and system.replay.
            labels={**original.labels, CORRELATION_ID: correlation_id(original.labels, str(original.id)),
                    REPLAY: "true"},
            trigger={"type": "replay", "executionId": str(original.id), "fromTask": from_task},
            original_execution=original, start_date=now,
        )
        new_ids: dict[Any, str] = {}
        copies = []
        for r in rows:
            keep = r.id in ancestors or (r.seq < target.seq and r.parent_id in new_ids.keys() | {None}
                                         and State(r.state).is_terminal)
            if not keep or r.id == target.id:
                continue
            parent_id = new_ids.get(r.parent_id) if r.parent_id else None
            key = f"{parent_id or ''}/{r.task_id}/{'' if r.iteration is None else r.iteration}"
            new_ids[r.id] = taskrun_id(str(exe.id), key)
            running = r.id in ancestors
            copies.append(TaskRun(
                id=new_ids[r.id], execution=exe, task_id=r.task_id, parent_id=parent_id, value=r.value,
                iteration=r.iteration, key=key, seq=r.seq, state=State.RUNNING.value if running else r.state,
                state_history=r.state_history if not running else [
                    {"state": State.CREATED.value, "date": now.isoformat()},
                    {"state": State.RUNNING.value, "date": now.isoformat()}],
                attempts=r.attempts, outputs=r.outputs if not running else {},
                meta={k: v for k, v in r.meta.items() if k in ("values", "case", "branch")} if running else r.meta,
                start_date=r.start_date, end_date=None if running else r.end_date,
            ))
        TaskRun.objects.bulk_create(copies)
        transaction.on_commit(lambda: runtime.wake(str(exe.id)))
    return exe
