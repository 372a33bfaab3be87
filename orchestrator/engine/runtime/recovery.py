"""Attempts whose worker stopped heartbeating: retried by policy, else failed with a reason."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction

from orchestrator.engine.durations import DurationError
from orchestrator.engine.executor.context import ContextBuilder
from orchestrator.engine.executor.snapshot import ExecutionView
from orchestrator.engine.expressions import render
from orchestrator.engine.journal import Event, LogLine
from orchestrator.engine.logs import prepare
from orchestrator.engine.executor.retries import GIVE_UP, NEW_EXECUTION_AT, Chain, Next, after_failure, policy_for
from orchestrator.engine.secrets import masks, unseal_inputs
from orchestrator.engine.states import State
from orchestrator.engine.store import ExecutionRow, LostAttempt, RunChange, Store
from orchestrator.engine.store.specs import SpecCache
from orchestrator.engine.tolerance import tolerated_state


def recover_lost_attempt(store: Store, specs: SpecCache, lost: LostAttempt, now: datetime) -> list[Event] | None:
    """Settle one RUNNING task run whose worker is gone. None if someone else did first."""
    with transaction.atomic():
        exe = store.lock_execution(lost.execution_id, now)
        found = store.get_taskruns([lost.taskrun_id])
        if exe is None or not found:
            return None
        run = found[0]
        if run.state != State.RUNNING or run.lease_owner != lost.lease_owner:
            return None
        task = specs.get(exe.revision_id).task(run.task_id)
        attempts = [dict(a) for a in run.attempts]
        if attempts:
            attempts[-1].update(state=State.FAILED.value, endDate=now.isoformat())
        reason = (f"Task [{run.task_id}] lost its worker: {lost.lease_owner} stopped heartbeating "
                  f"(it is presumed dead after CHOREO_LEASE_SECONDS without a heartbeat)")
        new_state, wake_at, meta = State.FAILED, None, dict(run.meta)
        if exe.state == State.KILLING:
            new_state = State.KILLED
        else:
            # The same rules as a worker reporting a failed attempt (executor.retries).
            spec = specs.get(exe.revision_id)
            try:
                plan = after_failure(policy_for(spec, run.task_id), attempts=len(attempts),
                                     first_start=run.start_date or now, now=now, seed=run.id,
                                     chain=Chain.of(exe.meta, exe.start_date), render=_renderer(store, exe, spec))
            except DurationError as exc:
                plan, reason = GIVE_UP, f"{reason}; not retried: {exc}"
            if plan.next == Next.RETRY_TASK and plan.at is not None:
                new_state, wake_at = State.RETRYING, plan.at
            elif plan.next == Next.NEW_EXECUTION and plan.at is not None:
                new_state, meta[NEW_EXECUTION_AT] = State.RETRIED, plan.at.isoformat()
            new_state = tolerated_state(task, new_state)
        run.state, run.attempts, run.lease_owner, run.wake_at, run.meta = new_state, attempts, "", wake_at, meta
        level = "WARN" if new_state in (State.RETRYING, State.RETRIED) else "ERROR"
        line = LogLine(run.id, run.task_id, len(attempts), level, now, reason)
        result = store.commit(
            exe.id, now, logs=prepare([line], masks(exe.inputs)),
            runs=[RunChange(run, expect=State.RUNNING, path=[new_state], expect_lease=lost.lease_owner,
                            required=False)],
        )
        return None if result.skipped else result.events


def _renderer(store: Store, exe: ExecutionRow, spec: Any) -> Callable[[str], str]:
    """Renders retry durations written as expressions, in the execution's context (built
    only if one is needed): the worker that had the task run's own context is gone."""
    context: dict[str, Any] = {}

    def render_one(template: str) -> str:
        if not context:
            runs = store.load_taskruns(exe.id)
            view = ExecutionView(
                id=exe.id, namespace=exe.namespace, flow_id=exe.flow_id, revision=exe.revision, state=exe.state,
                start_date=exe.start_date, inputs=unseal_inputs(exe.inputs), labels=exe.labels, trigger=exe.trigger,
                original_id=exe.original_id, taskruns=runs,
            )
            context.update(ContextBuilder(view, exe.revision, spec.variables or {}).for_execution())
        return render(template, context)

    return render_one
