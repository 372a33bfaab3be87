"""One executor pass: load a snapshot, ``decide``, apply the decisions in one transaction.

Work for the queue, wake-ups of other executions and events leave only after commit.
"""
from __future__ import annotations

import copy
import logging
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from flows.models import Execution, Flow, TaskRun
from orchestrator.engine.executor.context import outputs_map
from orchestrator.engine.executor.decide import Decider
from orchestrator.engine.executor.decisions import (
    CreateTaskRun,
    Decision,
    LogLine,
    RetryExecution,
    StartSubflow,
    UpdateExecution,
    UpdateTaskRun,
)
from orchestrator.engine.executor.flowables import START_ERROR
from orchestrator.engine.executor.retries import Chain, policy_for
from orchestrator.engine.executor.snapshot import ExecutionView, TaskRunView
from orchestrator.engine.logs import PendingLog, write_logs
from orchestrator.engine.rowcache import RowCache
from orchestrator.engine.secrets import secret_values, unseal_inputs
from orchestrator.engine.specs import InvalidStoredFlow, spec_for_revision
from orchestrator.engine.states import State
from orchestrator.engine.tasks.base import RetryPolicy, Task
from orchestrator.engine.transitions import change_execution, change_taskrun

log = logging.getLogger(__name__)
# The executor thread's cache of task run rows between passes (see rowcache).
ROWS = RowCache()
_RUNNABLE_WAITING = (State.CREATED.value, State.QUEUED.value, State.RESTARTED.value)


class Conflict(Exception):
    """Another process changed the execution during this pass: start the pass again."""


@dataclass
class Job:
    """A runnable task run handed to a worker, with everything it needs to run."""

    execution_id: str
    taskrun_id: str
    task: Task
    context: dict[str, Any]
    # The policy that applies to this task (its own, an ancestor's or the flow's: see
    # executor.retries) and where the execution stands in a CREATE_NEW_EXECUTION chain.
    retry: RetryPolicy | None
    chain: Chain
    secrets: list[str]
    revision_id: int
    # The row as the executor left it: the worker's claim is a conditional update on it,
    # with no read first (a stale row only costs one re-read).
    row: TaskRun | None = None
    # Set for children of a WorkingDirectory task: the folder they share.
    shared_dir: str | None = None


@dataclass
class Effects:
    execution_id: str = ""
    jobs: list[Job] = field(default_factory=list)
    wake: set[str] = field(default_factory=set)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    wake_at: datetime | None = None
    # Timers of other executions this pass created (a retry's new execution).
    timers: list[tuple[datetime, str]] = field(default_factory=list)


def taskrun_view(row: TaskRun) -> TaskRunView:
    return TaskRunView(
        id=str(row.id), task_id=row.task_id, parent_id=str(row.parent_id) if row.parent_id else None,
        value=row.value, iteration=row.iteration, key=row.key, seq=row.seq, state=State(row.state),
        attempts=row.attempts, outputs=row.outputs, meta=row.meta, wake_at=row.wake_at,
        start_date=row.start_date, end_date=row.end_date,
    )


def execution_view(exe: Execution, rows: list[TaskRun]) -> ExecutionView:
    return ExecutionView(
        id=str(exe.id), namespace=exe.namespace, flow_id=exe.flow_id, revision=exe.revision_number,
        state=State(exe.state), start_date=exe.start_date, inputs=unseal_inputs(exe.inputs),
        labels=exe.labels, trigger=exe.trigger,
        original_id=str(exe.original_execution_id) if exe.original_execution_id else None,
        parent={"id": str(exe.parent_execution_id), "taskrunId": str(exe.parent_taskrun_id)}
        if exe.parent_execution_id else None,
        meta=exe.meta, taskruns=[taskrun_view(r) for r in rows],
    )


def advance(execution_id: str, *, requeue: bool = False, now: datetime | None = None) -> Effects:
    """Run one executor pass over ``execution_id``; returns what to dispatch after commit."""
    for _ in range(10):
        try:
            with transaction.atomic():
                return _advance(execution_id, requeue, now or timezone.now())
        except (Conflict, IntegrityError):
            ROWS.drop(execution_id)
            continue
        except BaseException:
            ROWS.drop(execution_id)
            raise
    log.warning("execution %s: gave up a pass after repeated conflicts; it will be retried", execution_id)
    return Effects(execution_id=execution_id, wake={execution_id})


def _advance(execution_id: str, requeue: bool, now: datetime) -> Effects:
    effects = Effects(execution_id=execution_id)
    try:
        exe = Execution.objects.select_for_update().get(id=execution_id)
    except Execution.DoesNotExist:
        return effects
    if State(exe.state).is_terminal:
        ROWS.drop(execution_id)
        return effects
    rows = ROWS.load(execution_id)
    try:
        spec = spec_for_revision(exe.revision_id)
    except InvalidStoredFlow as exc:
        write_logs(execution_id, [PendingLog(None, "", None, "ERROR", now, f"The flow cannot be loaded: {exc}")])
        change_execution(exe, State.FAILED, now, meta={**exe.meta, "reason": str(exc)})
        return effects
    view = execution_view(exe, rows)
    if spec.concurrency is not None and exe.state in (State.CREATED.value, State.QUEUED.value):
        view.running_of_flow = _running_of_flow(exe)
    decider = Decider(spec, view, now)
    decisions = decider.run()
    by_id = {str(r.id): r for r in rows}
    created = _apply(exe, by_id, decisions, decider, spec, now, effects)
    if State(exe.state).is_terminal:
        ROWS.drop(execution_id)
    else:
        ROWS.keep(execution_id, [*by_id.values(), *created])
    final = decider.exe
    enqueued = {job.taskrun_id for job in effects.jobs}
    if requeue and not State(final.state).is_terminal and final.state != State.KILLING:
        for run in final.taskruns:
            if run.state.value in _RUNNABLE_WAITING and run.id not in enqueued and not _flowable(spec, run):
                effects.jobs.append(_job(exe, spec, decider, run))
    return effects


_HOLDING_SLOT = [State.RUNNING.value, State.PAUSED.value, State.KILLING.value, State.RESTARTED.value]


def _running_of_flow(exe: Execution) -> int:
    # Locking the flow row serialises the count on PostgreSQL, so two processes cannot
    # both take the last slot (SQLite's IMMEDIATE transactions serialise it already).
    Flow.objects.select_for_update().filter(namespace=exe.namespace, flow_id=exe.flow_id).first()
    return Execution.objects.filter(
        namespace=exe.namespace, flow_id=exe.flow_id, state__in=_HOLDING_SLOT
    ).exclude(id=exe.id).count()


def _wake_queued(exe: Execution, effects: Effects) -> None:
    """A slot is free: the oldest queued execution of the flow may start."""
    queued = Execution.objects.filter(namespace=exe.namespace, flow_id=exe.flow_id, state=State.QUEUED.value)
    for execution_id in queued.order_by("created_at").values_list("id", flat=True)[:1]:
        effects.wake.add(str(execution_id))


def fail_execution(execution_id: str, reason: str) -> None:
    """End an execution FAILED from outside the executor (its passes keep failing)."""
    now = timezone.now()
    with transaction.atomic():
        exe = Execution.objects.select_for_update().get(id=execution_id)
        state = State(exe.state)
        if state.is_terminal:
            return
        for row in TaskRun.objects.filter(execution_id=execution_id).exclude(state__in=[s.value for s in State
                                                                                        if s.is_terminal]):
            change_taskrun(row, State.FAILED, now, lease_owner="", lease_expires=None, wake_at=None)
        write_logs(execution_id, [PendingLog(None, "", None, "ERROR", now, reason)])
        final = State.KILLED if state == State.KILLING else State.FAILED
        change_execution(exe, final, now, wake_at=None, meta={**exe.meta, "reason": reason})


def _flowable(spec: Any, run: TaskRunView) -> bool:
    return bool(spec.task(run.task_id).is_flowable)


def _job(exe: Execution, spec: Any, decider: Decider, run: TaskRunView, row: TaskRun | None = None) -> Job:
    return Job(
        execution_id=str(exe.id), taskrun_id=run.id, task=spec.task(run.task_id),
        context=decider.context(run), retry=policy_for(spec, run.task_id),
        chain=Chain.of(exe.meta, exe.start_date), secrets=secret_values(exe.inputs),
        revision_id=exe.revision_id, row=row, shared_dir=_shared_dir(exe, decider, run),
    )


def _shared_dir(exe: Execution, decider: Decider, run: TaskRunView) -> str | None:
    """The folder of the nearest enclosing WorkingDirectory task run, if any."""
    working_directory = decider.working_directory(run)
    return str(shared_dir_path(str(exe.id), working_directory.id)) if working_directory is not None else None


def shared_dir_path(execution_id: str, taskrun_id: str) -> Path:
    return Path(settings.CHOREO_DATA_DIR) / "work" / "shared" / execution_id / taskrun_id


def _apply(exe: Execution, rows: dict[str, TaskRun], decisions: list[Decision], decider: Decider,
           spec: Any, now: datetime, effects: Effects) -> list[TaskRun]:
    """Write the decisions; returns the task run rows it created."""
    created: dict[str, TaskRun] = {}
    logs: list[PendingLog] = []
    exe_states: list[State] = []
    exe_fields: dict[str, Any] = {}
    task_ids = {r.id: r.task_id for r in decider.exe.taskruns}
    for decision in decisions:
        if isinstance(decision, CreateTaskRun):
            run = decision.run
            created[run.id] = TaskRun(
                id=run.id, execution_id=exe.id, task_id=run.task_id, parent_id=run.parent_id, value=run.value,
                iteration=run.iteration, key=run.key, seq=run.seq, state=run.state.value,
                state_history=_initial_history(run.state, now), outputs=run.outputs, meta=run.meta,
                start_date=now, end_date=now if run.state.is_terminal else None,
            )
            effects.events.append((str(exe.id), {"type": "taskrun", "id": run.id, "taskId": run.task_id, "state": run.state.value}))
        elif isinstance(decision, UpdateTaskRun):
            _update_taskrun(decision, rows, created, now)
            effects.events.append((str(exe.id), {"type": "taskrun", "id": decision.id, "state": decision.new.value}))
        elif isinstance(decision, UpdateExecution):
            exe_states.append(decision.new)
            if decision.outputs is not None:
                exe_fields["outputs"] = decision.outputs
        elif isinstance(decision, StartSubflow):
            _start_subflow(exe, decision, created, rows, now, effects)
        elif isinstance(decision, RetryExecution):
            _retry_execution(exe, decision, effects)
        elif isinstance(decision, LogLine):
            tid = decision.taskrun_id
            logs.append(PendingLog(tid, task_ids.get(tid, "") if tid else "", None, decision.level, now,
                                   decision.message))
    if logs:
        write_logs(str(exe.id), logs, secret_values(exe.inputs))
        effects.events.append((str(exe.id), {"type": "logs", "count": len(logs)}))
    if created:
        TaskRun.objects.bulk_create(created.values())
    for decision in decisions:
        if isinstance(decision, (CreateTaskRun, UpdateTaskRun)) and _enqueue(decision):
            run_id = _decision_id(decision)
            run = next(r for r in decider.exe.taskruns if r.id == run_id)
            row = created.get(run_id) or rows.get(run_id)
            # A copy: the worker changes its row, the cache keeps the executor's.
            effects.jobs.append(_job(exe, spec, decider, run, copy.copy(row) if row is not None else None))
    wake_at = decider.next_wake()
    effects.wake_at = wake_at
    final = exe_states[-1] if exe_states else State(exe.state)
    through = tuple(exe_states[:-1])
    # Passes over one execution are serialised by its row lock (PostgreSQL) or BEGIN
    # IMMEDIATE (SQLite); the version check guards the row when it changes, and a pass
    # that leaves the row as it was writes nothing.
    if exe_states or exe_fields or wake_at != exe.wake_at:
        ok = change_execution(exe, final, now, through=through, bump_version=True, wake_at=wake_at, **exe_fields)
        if not ok:
            raise Conflict()
    if exe_states:
        effects.events.append((str(exe.id), {"type": "execution", "state": final.value}))
    if final.is_terminal:
        shared = Path(settings.CHOREO_DATA_DIR) / "work" / "shared" / str(exe.id)
        transaction.on_commit(lambda: shutil.rmtree(shared, ignore_errors=True))
    # A RETRIED subflow execution is not the end of the child: the execution retrying it
    # carries the same parent task run and reports to it.
    if final.is_terminal and final != State.RETRIED and exe.parent_taskrun_id:
        _notify_parent(exe, decider.exe, final, now, effects)
    if final.is_terminal and spec.concurrency is not None:
        _wake_queued(exe, effects)
    return list(created.values())


def _decision_id(decision: CreateTaskRun | UpdateTaskRun) -> str:
    return decision.run.id if isinstance(decision, CreateTaskRun) else decision.id


def _enqueue(decision: CreateTaskRun | UpdateTaskRun) -> bool:
    return decision.enqueue


def _initial_history(state: State, now: datetime) -> list[dict[str, str]]:
    history = [{"state": State.CREATED.value, "date": now.isoformat()}]
    if state != State.CREATED:
        history.append({"state": state.value, "date": now.isoformat()})
    return history


def _update_taskrun(d: UpdateTaskRun, rows: dict[str, TaskRun], created: dict[str, TaskRun], now: datetime) -> None:
    fields: dict[str, Any] = {}
    if d.outputs is not None:
        fields["outputs"] = d.outputs
    if d.meta is not None:
        fields["meta"] = d.meta
    if d.clear_wake:
        fields["wake_at"] = None
    if d.wake_at is not None:
        fields["wake_at"] = d.wake_at
    if d.attempts is not None:
        fields["attempts"] = d.attempts
    pending = created.get(d.id)
    if pending is not None:
        # Created in this very pass: change the row before it is inserted.
        if d.new.value != pending.state:
            pending.state_history = [*pending.state_history, {"state": d.new.value, "date": now.isoformat()}]
            pending.state = d.new.value
            if d.new.is_terminal:
                pending.end_date = now
        for name, value in fields.items():
            setattr(pending, name, value)
        return
    row = rows[d.id]
    if not change_taskrun(row, d.new, now, expect=d.old, **fields):
        raise Conflict()


def _start_subflow(exe: Execution, d: StartSubflow, created: dict[str, TaskRun], rows: dict[str, TaskRun],
                   now: datetime, effects: Effects) -> None:
    from orchestrator.engine.services import FlowNotFound, ServiceError, create_execution
    from orchestrator.engine.dsl import InputError

    depth = int(exe.meta.get("depth", 0)) + 1
    target = f"{d.namespace}.{d.flow_id}"
    try:
        if depth > 20:
            raise ServiceError(f"subflows nested deeper than 20 levels: does {target} call itself?")
        child = create_execution(
            d.namespace, d.flow_id, d.inputs, revision=d.revision, labels=d.labels, execution_id=d.execution_id,
            parent=exe, parent_taskrun_id=d.taskrun_id, trigger={"type": "subflow", "executionId": str(exe.id)},
            meta={"depth": depth}, wake=False,
        )
    except InputError as exc:
        _child_not_started(d, rows, created, now, f"Subflow {target} refused its inputs: "
                           f"{'; '.join(exc.messages)}. Fix the task's inputs or the flow's input definitions.")
        effects.wake.add(str(exe.id))
        return
    except FlowNotFound as exc:
        _child_not_started(d, rows, created, now, f"Cannot start subflow {target}: {exc} "
                           "(or correct the task's namespace, flowId or revision)")
        effects.wake.add(str(exe.id))
        return
    except ServiceError as exc:
        _child_not_started(d, rows, created, now, f"Cannot start subflow {target}: {exc}")
        effects.wake.add(str(exe.id))
        return
    effects.wake.add(str(child.id))


def _child_not_started(d: StartSubflow, rows: dict[str, TaskRun], created: dict[str, TaskRun], now: datetime,
                       reason: str) -> None:
    """Only this layer sees that the flow is missing or refuses the inputs: note why on the
    task run (its meta already names the child) and let the executor's next pass decide
    (retry the attempt or fail the task run, see flowables.subflow)."""
    row = created.get(d.taskrun_id) or rows[d.taskrun_id]
    state = State(row.state)
    note = UpdateTaskRun(id=d.taskrun_id, old=state, new=state, meta={**row.meta, START_ERROR: reason})
    _update_taskrun(note, rows, created, now)


def _retry_execution(exe: Execution, d: RetryExecution, effects: Effects) -> None:
    from orchestrator.engine.services import create_retry_execution

    retry = create_retry_execution(exe, d.start_at, d.attempt, d.chain_started)
    # Created with its wake time: a timer starts it, no thread waits (the maintenance scan of
    # due timers would too, in any process, if this one stops first).
    effects.timers.append((d.start_at, str(retry.id)))


def _notify_parent(exe: Execution, final_view: ExecutionView, final: State, now: datetime, effects: Effects) -> None:
    """A subflow execution ended: hand its result to the parent's task run, wake the parent."""
    if exe.parent_taskrun_id is None:
        return
    row = TaskRun.objects.filter(id=exe.parent_taskrun_id).first()
    if row is None or State(row.state).is_terminal:
        return
    by_id = {r.id: r for r in final_view.taskruns}
    child = {
        "state": final.value,
        "outputs": exe.outputs,
        "taskOutputs": outputs_map(final_view.taskruns, by_id),
    }
    change_taskrun(row, State(row.state), now, meta={**row.meta, "child": child})
    effects.wake.add(str(row.execution_id))
