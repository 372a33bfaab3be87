"""Workers run runnable task runs: claim an attempt, run it, report the result.

A worker receives a small job reference (queue.base.Job) and rebuilds the rest from the
store and the spec cache, so the same code runs inside the engine's process or in
another one. The claim is a conditional update, so a job offered twice runs once. While
the attempt runs, the process's heartbeat keeps its lease (an attempt is lost when its
instance stops heartbeating); a kill or a timeout sets the context's stop flag and
process-based tasks terminate their process group.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings

from orchestrator.engine.executor.context import execution_context, outputs_map, taskrun_context
from orchestrator.engine.executor.snapshot import ExecutionView, TaskRunView
from orchestrator.engine.durations import DurationError, format_duration, resolve_duration
from orchestrator.engine.expressions import ExpressionError
from orchestrator.engine.expressions.limits import Interrupted, interruptible
from orchestrator.engine.journal import Event, LogLine
from orchestrator.engine.logs import prepare
from orchestrator.engine.queue.base import Job
from orchestrator.engine.executor.retries import (
    GIVE_UP,
    NEW_EXECUTION_AT,
    Chain,
    Next,
    after_failure,
    policy_for,
    warns_after_success,
)
from orchestrator.engine.secrets import mask_values, masks, unseal_inputs
from orchestrator.engine.states import State
from orchestrator.engine.store import codec
from orchestrator.engine.store import Claim, ExecutionChange, ExecutionRow, RunChange, Store
from orchestrator.engine.store.specs import SpecCache
from orchestrator.engine.tasks.base import RunnableTask, Task, TaskFailed, TaskKilled
from orchestrator.engine.tolerance import tolerated_state
from orchestrator.engine.worker.context import Assignment, Running, WorkerContext
from orchestrator.engine.worker.paths import shared_dir_path

log = logging.getLogger(__name__)
# The reason given to attempts stopped because their process stops: they run again elsewhere.
SHUTDOWN = "shutdown"


@dataclass
class Outcome:
    """How an attempt ended: the task run's new values (``run`` is the worker's own copy),
    its last log lines (masked and capped) and the labels it set. ``lease`` is the
    instance the attempt ran under: the result counts only while that instance holds it."""

    execution_id: str
    run: TaskRunView
    logs: list[LogLine]
    labels: dict[str, str]
    lease: str


class Worker:
    """Runs attempts. An outcome goes to ``report``: by default the worker writes it itself
    (a worker in a process of its own), an engine passes its executor's inbox instead, which
    writes it in the transaction of the next executor pass."""

    def __init__(self, instance_id: str, store: Store, specs: SpecCache, now: Callable[[], datetime],
                 publish: Callable[[list[Event]], None], done: Callable[[str], None],
                 report: Callable[[Outcome], None] | None = None) -> None:
        self.instance_id = instance_id
        self.store = store
        self.specs = specs
        self.now = now
        self.publish = publish
        self.done = done
        self.report = report or self.save
        self.running = Running()

    def execute(self, job: Job) -> None:
        claim = self.store.claim(job.taskrun_id, self.instance_id, self.now(), expect_attempt=job.attempt)
        if claim is None:
            return
        self.publish(claim.events)
        try:
            assignment = self._assign(claim)
        except Exception as exc:  # the flow cannot be loaded, the context cannot be built
            log.exception("task run %s: cannot prepare its attempt", claim.run.id)
            self._report_failure(claim, f"Task [{claim.run.task_id}] could not start: {type(exc).__name__}: {exc}")
            return
        self.run(assignment)

    def run(self, job: Assignment) -> None:
        ctx = WorkerContext(job, None, lambda lines, secrets: self._write_logs(job.execution_id, lines, secrets),
                            lambda: self.store.error_logs(job.execution_id))
        self.running.add(ctx)
        outputs: dict[str, Any] = {}
        reason: str | None = None
        try:
            if ctx.killed:  # killed while it waited for a thread
                raise TaskKilled("stopped before it started")
            # The timeout may be an expression: rendered in the attempt's context.
            ctx.timeout = resolve_duration(job.task.timeout, ctx.render_str, "timeout", positive=True)
            ctx.deadline = self.now() + ctx.timeout if ctx.timeout else None
            assert isinstance(job.task, RunnableTask)
            # A kill or a timeout also stops the task while it renders an expression.
            with interruptible(lambda: ctx.killed):
                outputs = _within_cap(job.task.run(ctx) or {})
            state = State.SUCCESS
        except (TaskKilled, Interrupted):
            state, reason = self._stopped(ctx, job)
        except (TaskFailed, ExpressionError) as exc:
            state, reason = State.FAILED, str(exc)
        except Exception as exc:  # a bug in a task must fail the task, not the worker
            log.exception("task %s failed unexpectedly", job.task.id)
            state, reason = State.FAILED, f"{type(exc).__name__}: {exc}"
        finally:
            self.running.remove(ctx)
            ctx.cleanup()
        if ctx.stop_reason and state == State.SUCCESS:
            state, reason = self._stopped(ctx, job)
        elif state == State.SUCCESS and ctx.warning:
            state = State.WARNING
        if reason:
            reason = ctx.mask(reason)
        self._report(job, ctx, state, outputs, reason)

    # --- building an attempt from the store -------------------------------------------------
    def _assign(self, claim: Claim) -> Assignment:
        exe = claim.execution
        spec = self.specs.get(exe.revision_id)
        task: Task = spec.task(claim.run.task_id)
        outputs: Mapping[str, Any] = (self._outputs(exe.id) if mentions_outputs(spec, task)
                                      else LazyOutputs(lambda: self._outputs(exe.id)))
        return assignment(spec, exe, claim.run, claim.ancestors, claim.attempt, outputs)

    def _outputs(self, execution_id: str) -> dict[str, Any]:
        return outputs_of(self.store, execution_id)

    # --- reporting ------------------------------------------------------------------------------
    def _stopped(self, ctx: WorkerContext, job: Assignment) -> tuple[State, str]:
        if ctx.stop_reason == "timeout":
            limit = format_duration(ctx.timeout) if ctx.timeout else str(job.task.timeout)
            return State.FAILED, f"Task [{job.task.id}] timed out after {limit}"
        if ctx.stop_reason == SHUTDOWN:
            return State.QUEUED, f"Task [{job.task.id}] was interrupted: its worker stopped; it runs again"
        return State.KILLED, f"Task [{job.task.id}] was killed"

    def _report(self, job: Assignment, ctx: WorkerContext, state: State, outputs: dict[str, Any],
                reason: str | None) -> None:
        now = self.now()
        run = job.run
        attempts = [dict(a) for a in run.attempts]
        attempt_state = State.KILLED if state == State.QUEUED else state
        attempts[-1].update(state=attempt_state.value, endDate=now.isoformat())
        new_state, wake_at = state, None
        meta = dict(run.meta)
        suffix = ""
        if state == State.FAILED and ctx.stop_reason is None:
            # The executor's rules (executor.retries), applied here where the attempt ends.
            try:
                plan = after_failure(job.retry, attempts=len(attempts), first_start=run.start_date or now, now=now,
                                     seed=run.id, chain=job.chain, render=ctx.render_str)
            except DurationError as exc:
                plan, reason = GIVE_UP, "; ".join(filter(None, [reason, ctx.mask(f"not retried: {exc}")]))
            if plan.next == Next.RETRY_TASK and plan.at is not None:
                new_state, wake_at = State.RETRYING, plan.at
                suffix = f" (attempt {len(attempts)}, retrying at {plan.at.isoformat()})"
            elif plan.next == Next.NEW_EXECUTION and plan.at is not None:
                # The executor ends the execution RETRIED and creates the next one.
                new_state = State.RETRIED
                meta[NEW_EXECUTION_AT] = plan.at.isoformat()
                suffix = f" (execution attempt {job.chain.attempt}, a new execution starts at {plan.at.isoformat()})"
        if state == State.SUCCESS and warns_after_success(job.retry, len(attempts)):
            new_state = State.WARNING
        if new_state != State.QUEUED:
            new_state = tolerated_state(job.task, new_state)
        logs = ctx.take_logs()
        if reason:
            level = "WARN" if new_state in (State.RETRYING, State.RETRIED, State.QUEUED) else "ERROR"
            logs.append(LogLine(run.id, job.task.id, len(attempts), level, now, reason + suffix))
        run.attempts = attempts
        run.state = new_state
        run.lease_owner = ""
        run.wake_at = wake_at
        if new_state not in (State.RETRYING, State.QUEUED):
            run.outputs = _cap_outputs(mask_values(outputs, ctx.secrets))
        if ctx.metrics:
            meta["metrics"] = ctx.metrics
        run.meta = meta
        if new_state.is_terminal:
            run.end_date = now
        labels = {key: ctx.mask(value) for key, value in ctx.labels.items()}
        self.report(Outcome(job.execution_id, run, prepare(logs, ctx.secrets), labels, self.instance_id))

    def _report_failure(self, claim: Claim, reason: str) -> None:
        now = self.now()
        run = claim.run
        run.attempts = [*run.attempts[:-1], {**run.attempts[-1], "state": State.FAILED.value,
                                             "endDate": now.isoformat()}]
        run.state = State.FAILED
        run.lease_owner = ""
        run.end_date = now
        line = LogLine(run.id, run.task_id, claim.attempt, "ERROR", now, reason)
        logs = prepare([line], masks(claim.execution.inputs))
        self.report(Outcome(claim.execution.id, run, logs, {}, self.instance_id))

    def interrupt(self, job: Assignment) -> None:
        """An attempt claimed for this process that will not run here: it is handed back
        (its task run runnable again) as one stopped by a shutdown is."""
        ctx = WorkerContext(job, None, lambda lines, secrets: None, lambda: [])
        ctx.stop_reason = SHUTDOWN
        state, reason = self._stopped(ctx, job)
        self._report(job, ctx, state, {}, reason)

    def save(self, outcome: Outcome) -> None:
        """Write an outcome through the store (the engine's executor writes those of its own
        workers in its passes instead)."""
        # Another process took the attempt over (this one was thought dead): its result is
        # dropped, its log lines are kept.
        run = outcome.run
        change = RunChange(run, expect=State.RUNNING, path=[run.state], expect_lease=outcome.lease, required=False)
        labels = outcome.labels
        result = self.store.commit(outcome.execution_id, self.now(), runs=[change], logs=outcome.logs,
                                   execution=ExecutionChange(merge_labels=labels) if labels else None)
        if result.skipped:
            log.info("task run %s: result dropped, the attempt was taken over", run.id)
        self.publish(result.events)
        self.done(outcome.execution_id)

    def _write_logs(self, execution_id: str, lines: list[LogLine], secrets: list[str]) -> None:
        result = self.store.commit(execution_id, self.now(), logs=prepare(lines, secrets))
        self.publish(result.events)


def outputs_of(store: Store, execution_id: str) -> dict[str, Any]:
    """The execution's ``outputs`` map, read from the store."""
    runs = store.load_taskruns(execution_id)
    return outputs_map(runs, {r.id: r for r in runs})


def assignment(spec: Any, exe: ExecutionRow, run: TaskRunView, ancestors: list[TaskRunView], attempt: int,
               outputs: Mapping[str, Any], base: dict[str, Any] | None = None) -> Assignment:
    """Attempt ``attempt`` of ``run``, with its expression context (``ancestors`` nearest
    first; ``outputs`` the execution's outputs map, or a lazy stand-in; ``base`` the
    execution's part of the context when the caller has it already)."""
    task: Task = spec.task(run.task_id)
    if base is None:
        view = ExecutionView(
            id=exe.id, namespace=exe.namespace, flow_id=exe.flow_id, revision=exe.revision, state=exe.state,
            start_date=exe.start_date, inputs=unseal_inputs(exe.inputs), labels=exe.labels, trigger=exe.trigger,
            original_id=exe.original_id,
        )
        base = execution_context(view, exe.revision, spec.variables or {})
    shared = next((a for a in ancestors if spec.task(a.task_id).shares_working_dir), None)
    context = taskrun_context(base, outputs, run, ancestors, task.type, shared)
    # Kestra counts the attempts before this one (0 on the first).
    context["taskrun"]["attemptsCount"] = attempt - 1
    return Assignment(
        execution_id=exe.id, run=run, attempt=attempt, task=task, context=context,
        retry=policy_for(spec, task.id), chain=Chain.of(exe.meta, exe.start_date),
        secrets=masks(exe.inputs, spec.secret_names), namespace=exe.namespace, flow_id=exe.flow_id,
        shared_dir=str(shared_dir_path(exe.id, shared.id)) if shared is not None else None,
    )


class LazyOutputs(Mapping[str, Any]):
    """``outputs`` for a task whose definition never names them: read only if a template
    reaches them another way (``render()`` of a variable, say)."""

    def __init__(self, load: Callable[[], dict[str, Any]]) -> None:
        self._load = load
        self._data: dict[str, Any] | None = None

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = self._load()
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


# id(task) -> (task, mentions): the task is kept so its id is never reused for another.
_MENTIONS: dict[int, tuple[Task, bool]] = {}


def mentions_outputs(spec: Any, task: Task) -> bool:
    """Whether the task's properties or the flow's variables name ``outputs`` (then they
    are read at once; most tasks never need them, and reading them is O(task runs))."""
    known = _MENTIONS.get(id(task))
    if known is not None and known[0] is task:
        return known[1]
    text = json.dumps(task.model_dump(mode="json"), default=str) + json.dumps(spec.variables or {}, default=str)
    found = "outputs" in text
    if len(_MENTIONS) > 10000:
        _MENTIONS.clear()
    _MENTIONS[id(task)] = (task, found)
    return found


def _within_cap(outputs: dict[str, Any]) -> dict[str, Any]:
    """A task's outputs, checked against CHOREO_OUTPUT_MAX. Over it the task fails: outputs
    cut or dropped would only make a later task fail, far from the cause."""
    if outputs:
        size = len(codec.dumps(outputs).encode())
        if size > settings.CHOREO_OUTPUT_MAX:
            raise TaskFailed(
                f"The task's outputs are {size:,} bytes as JSON, more than the {settings.CHOREO_OUTPUT_MAX:,} "
                "bytes a task's outputs may hold (CHOREO_OUTPUT_MAX); none of them was kept. Write large "
                "results to a file (outputFiles) and pass the file on instead")
    return outputs


def _cap_outputs(outputs: dict[str, Any]) -> dict[str, Any]:
    """The outputs as stored: plain JSON values (checked against the cap when the task ended)."""
    return codec.loads(codec.dumps(outputs)) if outputs else {}  # type: ignore[no-any-return]
