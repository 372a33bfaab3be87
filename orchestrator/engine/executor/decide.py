"""``decide(spec, snapshot, now)``: the executor's pure core.

It walks the flow from the root block down through every running flowable task run,
creates the task runs that may start now, ends the blocks whose children are over and
ends the execution when the root block is over. It never touches the database, the
clock or a random source: the caller applies the returned decisions in one transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from orchestrator.engine.executor import flowables
from orchestrator.engine.executor.context import ContextBuilder, each_output_function
from orchestrator.engine.executor.decisions import (
    CreateTaskRun,
    Decision,
    LogLine,
    RetryExecution,
    StartSubflow,
    UpdateExecution,
    UpdateTaskRun,
)
from orchestrator.engine.executor.retries import NEW_EXECUTION_AT, NOT_BEFORE, Chain
from orchestrator.engine.executor.index import RunIndex
from orchestrator.engine.executor.keys import run_key, taskrun_id
from orchestrator.engine.executor.snapshot import ExecutionView, TaskRunView
from orchestrator.engine.dsl import OutputError, typed_outputs
from orchestrator.engine.expressions import ExpressionError, is_truthy, render, render_typed, render_value
from orchestrator.engine.states import State, worst
from orchestrator.engine.tasks.base import Task
from orchestrator.engine.tolerance import effective_state, tolerated_state

# A safety net against a resolver that keeps changing the snapshot: real flows settle
# in a few rounds (one per level of nesting that starts in the same pass).
_MAX_ROUNDS = 500
_STOPPING = (State.FAILED, State.KILLED, State.CANCELLED)
# Sequences of this many tasks or more keep their place between passes.
_REMEMBERED_SEQUENCE = 8
# What a task run waiting for its turn (not running on a worker) may be.
_WAITING = (State.CREATED, State.QUEUED, State.RESTARTED, State.RETRYING, State.PAUSED)


def decide(spec: Any, execution: ExecutionView, now: datetime) -> list[Decision]:
    """Everything that should happen to ``execution`` now. Does not mutate its input."""
    copy = ExecutionView(**{**execution.__dict__, "taskruns": [_copy(r) for r in execution.taskruns]})
    return Decider(spec, copy, now).run()


class Decider:
    """One executor pass over a snapshot. It applies its own decisions to the snapshot as
    it goes (the snapshot then is the state the decisions lead to): an engine keeps the
    snapshot and its ``RunIndex`` between passes, so a pass costs what changed. Only the
    flowable task runs marked dirty in the index are resolved again."""

    def __init__(self, spec: Any, execution: ExecutionView, now: datetime, index: RunIndex | None = None) -> None:
        self.spec = spec
        self.exe = execution
        self.now = now
        self.decisions: list[Decision] = []
        self.changed = False
        self.index = index if index is not None else RunIndex(execution.taskruns)
        self.by_id = self.index.by_id
        self.by_key = self.index.by_key
        self.contexts = ContextBuilder(self.exe, execution.revision, spec.variables or {}, self.index)

    # --- snapshot bookkeeping -------------------------------------------------------
    def child(self, parent: TaskRunView | None, task_id: str, iteration: int | None = None) -> TaskRunView | None:
        return self.by_key.get(run_key(parent.id if parent else None, task_id, iteration))

    def children(self, parent: TaskRunView | None) -> list[TaskRunView]:
        return self.index.children_of(parent.id if parent else None)

    def task(self, task_id: str) -> Task:
        task: Task = self.spec.task(task_id)
        return task

    # --- the loop ---------------------------------------------------------------------
    def run(self) -> list[Decision]:
        state = self.exe.state
        if state.is_terminal:
            return []
        if state == State.CREATED and self._not_before() is not None:
            return []  # a retry's new execution waits for its delay (see next_wake)
        if state in (State.CREATED, State.QUEUED) and not self._may_start():
            return self.decisions
        if state in (State.CREATED, State.QUEUED, State.RESTARTED):
            self.set_execution(State.RUNNING)
        if self.exe.state == State.KILLING:
            self._kill()
            return self.decisions
        root: State | None = None
        for _ in range(_MAX_ROUNDS):
            if self.index.retried:
                self._retry_as_new_execution(self.by_id[min(self.index.retried)])
                return self.decisions
            self.changed = False
            self._fire_timers()
            dirty, root_dirty = self.index.take_dirty()
            for run in dirty:
                if run.state in (State.RUNNING, State.PAUSED) and self._is_flowable(run):
                    self._resolve(run)
            if root_dirty:
                root = self.block(None, self.spec.tasks, self.spec.errors or [], self.spec.finally_ or [])
            if not self.changed and not self.index.dirty:
                break
        if root is not None:
            self._end_execution(root)
        else:
            self._sync_paused()
        return self.decisions

    def _may_start(self) -> bool:
        """The flow's concurrency limit: queue, cancel or fail an execution over it."""
        limit = self.spec.concurrency
        if limit is None or self.exe.running_of_flow < limit.limit:
            return True
        if limit.behavior == "QUEUE":
            self.set_execution(State.QUEUED)
        else:
            reason = f"Flow concurrency limit of {limit.limit} reached ({limit.behavior})"
            self.log(None, "WARN" if limit.behavior == "CANCEL" else "ERROR", reason)
            self.set_execution(State.CANCELLED if limit.behavior == "CANCEL" else State.FAILED, reason=reason)
        return False

    def _resolve(self, run: TaskRunView) -> None:
        task = self.task(run.task_id)
        flowables.resolve(self, run, task)

    def _is_flowable(self, run: TaskRunView) -> bool:
        return self.task(run.task_id).is_flowable

    def _not_before(self) -> datetime | None:
        """When a CREATED execution may start, if that is still in the future."""
        text = self.exe.meta.get(NOT_BEFORE)
        when = datetime.fromisoformat(text) if text else None
        return when if when is not None and when > self.now else None

    def next_wake(self) -> datetime | None:
        """The earliest timer of the execution (a retry delay, a pause, a delayed start)."""
        waits = [w for w in (self.index.next_timer(),) if w is not None]
        if self.exe.state == State.CREATED:
            start = self._not_before()
            if start is not None:
                waits.append(start)
        return min(waits) if waits else None

    def _fire_timers(self) -> None:
        for run in list(self.index.due(self.now)):
            self.index.dirty.add(run.id)  # a pause's timer: its resolver decides
            if run.state == State.RETRYING and self._is_flowable(run):
                # A Subflow's next attempt: its resolver starts a new child execution.
                self.update(run, State.RUNNING, clear_wake=True, meta=flowables.without_child(run.meta))
            elif run.state == State.RETRYING:
                self.update(run, State.QUEUED, clear_wake=True, enqueue=True)

    def _retry_as_new_execution(self, failed: TaskRunView) -> None:
        """A task failed under CREATE_NEW_EXECUTION: this execution ends RETRIED at once (no
        errors or finally branch runs, as in Kestra) and hands over to a new execution.
        Task runs still waiting for their turn end KILLED so no worker picks them up;
        attempts already running on a worker finish on their own."""
        for run in self.exe.taskruns:
            if run.state in _WAITING or (run.state == State.RUNNING and self._is_flowable(run)):
                self.update(run, State.KILLED, clear_wake=True)
        chain = Chain.of(self.exe.meta, self.exe.start_date)
        text = failed.meta.get(NEW_EXECUTION_AT)
        start_at = datetime.fromisoformat(text) if text else self.now
        self.log(None, "WARN", f"Task [{failed.task_id}] failed: execution attempt {chain.attempt} ends RETRIED; "
                               f"attempt {chain.attempt + 1} starts as a new execution at {start_at.isoformat()}")
        self.set_execution(State.RETRIED)
        self.decisions.append(RetryExecution(execution_id=self.exe.id, start_at=start_at,
                                             attempt=chain.attempt + 1, chain_started=chain.started))

    def _sync_paused(self) -> None:
        paused = self.index.paused > 0
        if paused and self.exe.state == State.RUNNING:
            self.set_execution(State.PAUSED)
        elif not paused and self.exe.state == State.PAUSED:
            self.set_execution(State.RUNNING)

    def _kill(self) -> None:
        """No new task starts; every task run that is not running work ends KILLED."""
        pending = False
        for run in sorted(self.exe.taskruns, key=lambda r: -r.seq):
            if run.state.is_terminal:
                continue
            if run.state in (State.RUNNING, State.KILLING) and not self._is_flowable(run):
                pending = True  # the worker stops it and reports KILLED
                continue
            if self._is_flowable(run) and any(not c.state.is_terminal for c in self.children(run)):
                pending = True
                continue
            self.update(run, State.KILLED, clear_wake=True)
        if not pending:
            self.set_execution(State.KILLED)

    def _end_execution(self, state: State) -> None:
        outputs: dict[str, Any] = {}
        if state in (State.SUCCESS, State.WARNING) and self.spec.outputs:
            try:
                outputs = self._flow_outputs()
            except (ExpressionError, OutputError) as exc:
                detail = "; ".join(exc.messages) if isinstance(exc, OutputError) else str(exc)
                self.log(None, "ERROR", f"Failed to render the flow outputs: {detail}")
                state, outputs = State.FAILED, {}
        self.set_execution(state, outputs=outputs or None)

    def _flow_outputs(self) -> dict[str, Any]:
        """Rendered flow outputs, typed (see dsl.outputs). Text types render templates to
        text (a map becomes JSON); the others keep the value of a lone ``{{ expr }}``."""
        context = self.contexts.for_execution()
        rendered: dict[str, Any] = {}
        for output in self.spec.outputs:
            raw = output.value
            try:
                if output.renders_as_text or not isinstance(raw, str):
                    rendered[output.id] = render_value(raw, context)
                else:
                    rendered[output.id] = render_typed(raw, context)
            except ExpressionError as exc:
                if output.required:
                    raise
                # Kestra skips an optional output it cannot render, with a warning.
                self.log(None, "WARN", f"Failed to render the optional flow output '{output.id}', "
                         f"it is left empty: {exc}")
                rendered[output.id] = None
        return typed_outputs(self.spec.outputs, rendered)

    # --- blocks: what flowable resolvers compose ------------------------------------
    def sequence(
        self, parent: TaskRunView | None, tasks: Sequence[Task], iteration: int | None = None,
        value: str | None = None,
    ) -> list[State] | None:
        """Run ``tasks`` one after another. Their end states once over, else None.

        Where the sequence stands is kept in the index between calls (finished task runs
        never start again but by a restart, which makes a new index): 5,000 tasks in a row
        cost one step each, not a walk from the first."""
        if len(tasks) < _REMEMBERED_SEQUENCE:
            cursor = _Cursor(tasks)  # short: walking it costs less than remembering it
        else:
            key = ("sequence", parent.id if parent else None, id(tasks), iteration)
            kept = self.index.memo.get(key)
            if isinstance(kept, _Cursor) and kept.tasks is tasks:
                cursor = kept
            else:
                # The list is kept in the cursor: while it lives no other list takes its id.
                cursor = self.index.memo[key] = _Cursor(tasks)
        while not cursor.over and cursor.position < len(tasks):
            task = tasks[cursor.position]
            if task.disabled:
                cursor.position += 1
                continue
            run = self.child(parent, task.id, iteration)
            if run is None:
                self.create(parent, task, iteration, value)
                return None
            if not run.state.is_terminal or run.state == State.RETRIED:
                return None  # RETRIED: the whole execution ends RETRIED in the next round
            state = effective_state(task, run.state)
            cursor.states.append(state)
            cursor.position += 1
            cursor.over = state in _STOPPING
        return list(cursor.states)

    def block(
        self, parent: TaskRunView | None, tasks: Sequence[Task], errors: Sequence[Task],
        finally_: Sequence[Task], main: list[State] | None = None,
    ) -> State | None:
        """A sequential block with ``errors`` and ``finally``: its end state once over."""
        if main is None:
            main = self.sequence(parent, tasks)
            if main is None:
                return None
        return self.finish(parent, main, errors, finally_)

    def finish(
        self, parent: TaskRunView | None, main: list[State], errors: Sequence[Task], finally_: Sequence[Task]
    ) -> State | None:
        state = worst(main)
        if state == State.FAILED and errors:
            handled = self.sequence(parent, errors)
            if handled is None:
                return None
        if finally_:
            after = self.sequence(parent, finally_)
            if after is None:
                return None
            state = worst([state, *after])
        if State.CANCELLED in main and state == State.SUCCESS:
            state = State.CANCELLED
        return state

    # --- task runs ------------------------------------------------------------------
    def create(
        self, parent: TaskRunView | None, task: Task, iteration: int | None = None, value: str | None = None,
        extra_meta: dict[str, Any] | None = None,
    ) -> TaskRunView:
        key = run_key(parent.id if parent else None, task.id, iteration)
        if value is None and parent is not None:
            value = parent.value
        run = TaskRunView(
            id=taskrun_id(self.exe.id, key),
            task_id=task.id,
            parent_id=parent.id if parent else None,
            value=value,
            iteration=iteration,
            key=key,
            seq=self.index.next_seq,
            state=State.CREATED,
            start_date=self.now,
            meta=dict(extra_meta or {}),
        )
        reason: str | None = None
        if task.runIf is not True:
            try:
                runnable = is_truthy(render_typed(str(task.runIf), self.context(run)))
            except ExpressionError as exc:
                runnable, reason = False, f"runIf of task [{task.id}] could not be rendered: {exc}"
            if reason is not None:
                run.state = State.FAILED
            elif not runnable:
                run.state = State.SKIPPED
        if run.state == State.CREATED and task.is_flowable:
            run.state = State.RUNNING
        if run.state.is_terminal:
            run.end_date = self.now
        self.exe.taskruns.append(run)
        self.index.add(run)
        enqueue = run.state == State.CREATED
        self.decisions.append(CreateTaskRun(run=_copy(run), enqueue=enqueue, reason=reason))
        if reason:
            self.log(run.id, "ERROR", reason)
        self.changed = True
        return run

    def update(
        self, run: TaskRunView, new: State, *, outputs: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None, wake_at: datetime | None = None, clear_wake: bool = False,
        reason: str | None = None, enqueue: bool = False, attempts: list[dict[str, Any]] | None = None,
    ) -> None:
        old = run.state
        run.state = new
        if outputs is not None:
            run.outputs = outputs
        if meta is not None:
            run.meta = meta
        if attempts is not None:
            run.attempts = attempts
        if clear_wake:
            run.wake_at = None
        if wake_at is not None:
            run.wake_at = wake_at
        if new.is_terminal:
            run.end_date = self.now
        self.index.update(run, old, outputs_changed=outputs is not None)
        self.decisions.append(
            UpdateTaskRun(
                id=run.id, old=old, new=new, outputs=outputs, meta=meta, wake_at=wake_at,
                clear_wake=clear_wake, reason=reason, enqueue=enqueue, attempts=attempts,
            )
        )
        if reason and new in (State.FAILED, State.KILLED, State.CANCELLED):
            self.log(run.id, "ERROR", reason)
        elif reason and new in (State.RETRYING, State.RETRIED):
            self.log(run.id, "WARN", reason)
        self.changed = True

    def end(self, run: TaskRunView, state: State, *, outputs: dict[str, Any] | None = None,
            reason: str | None = None, attempts: list[dict[str, Any]] | None = None) -> None:
        """End a flowable task run; its own allowFailure / allowWarning apply here, as the
        worker applies a runnable task's."""
        final = tolerated_state(self.task(run.task_id), state)
        if reason and final != state and state in _STOPPING:
            self.log(run.id, "ERROR", reason)  # tolerated, but the failure is still told
        self.update(run, final, outputs=outputs, reason=reason, clear_wake=True, attempts=attempts)

    def start_subflow(self, run: TaskRunView, decision: StartSubflow) -> None:
        self.decisions.append(decision)
        self.changed = True

    def set_execution(self, new: State, outputs: dict[str, Any] | None = None, reason: str | None = None) -> None:
        old = self.exe.state
        if old == new:
            return
        self.exe.state = new
        self.decisions.append(UpdateExecution(old=old, new=new, outputs=outputs, reason=reason))

    def log(self, taskrun_id_: str | None, level: str, message: str) -> None:
        self.decisions.append(LogLine(taskrun_id=taskrun_id_, level=level, message=message))

    # --- expressions ----------------------------------------------------------------
    def context(self, run: TaskRunView) -> dict[str, Any]:
        task = self.spec.task(run.task_id)
        context = self.contexts.for_taskrun(run, task.type, self.working_directory(run))
        return context

    def working_directory(self, run: TaskRunView) -> TaskRunView | None:
        """The nearest enclosing WorkingDirectory task run, if any."""
        parent = self.by_id.get(run.parent_id) if run.parent_id else None
        while parent is not None:
            if self.task(parent.task_id).shares_working_dir:
                return parent
            parent = self.by_id.get(parent.parent_id) if parent.parent_id else None
        return None

    def render(self, run: TaskRunView, template: str) -> str:
        context = self.context(run)
        return render(template, context, {"currentEachOutput": each_output_function(context)})

    def render_typed(self, run: TaskRunView, template: Any) -> Any:
        if not isinstance(template, str):
            return render_value(template, self.context(run))
        context = self.context(run)
        return render_typed(template, context, {"currentEachOutput": each_output_function(context)})

    def render_value(self, run: TaskRunView, value: Any) -> Any:
        return render_value(value, self.context(run))


@dataclass
class _Cursor:
    """Where a sequence of tasks stands: the tasks before ``position`` are over."""

    tasks: Sequence[Task]
    position: int = 0
    states: list[State] = field(default_factory=list)
    # A task ended FAILED, KILLED or CANCELLED: the tasks after it never run.
    over: bool = False


def _copy(run: TaskRunView) -> TaskRunView:
    return TaskRunView(
        **{**run.__dict__, "attempts": list(run.attempts), "outputs": dict(run.outputs), "meta": dict(run.meta)}
    )
