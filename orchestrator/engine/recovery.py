"""Attempts whose worker stopped heartbeating: retried by policy, else failed with a reason."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction

from flows.models import Execution, TaskRun
from orchestrator.engine.apply import execution_view
from orchestrator.engine.durations import DurationError
from orchestrator.engine.executor.context import ContextBuilder
from orchestrator.engine.expressions import render
from orchestrator.engine.logs import PendingLog, write_logs
from orchestrator.engine.retry import next_delay
from orchestrator.engine.secrets import secret_values
from orchestrator.engine.specs import spec_for_revision
from orchestrator.engine.states import State
from orchestrator.engine.tolerance import tolerated_state
from orchestrator.engine.transitions import change_taskrun


def recover_lost_attempt(row: TaskRun, now: datetime) -> bool:
    """Settle one RUNNING task run whose lease expired. False if someone else did first."""
    with transaction.atomic():
        exe = Execution.objects.select_for_update().get(id=row.execution_id)
        spec = spec_for_revision(exe.revision_id)
        task = spec.task(row.task_id)
        attempts = [dict(a) for a in row.attempts]
        if attempts:
            attempts[-1].update(state=State.FAILED.value, endDate=now.isoformat())
        reason = (
            f"Task [{row.task_id}] lost its worker: {row.lease_owner or 'a worker'} stopped heartbeating "
            f"(lease expired at {row.lease_expires.isoformat() if row.lease_expires else 'unknown'})"
        )
        new_state, wake_at = State.FAILED, None
        if exe.state == State.KILLING.value:
            new_state = State.KILLED
        else:
            policy = task.retry or spec.retry
            if policy is not None:
                try:
                    delay = next_delay(policy, len(attempts), row.start_date or now, now, str(row.id),
                                       _renderer(exe, spec))
                except DurationError as exc:
                    delay, reason = None, f"{reason}; not retried: {exc}"
                if delay is not None:
                    new_state, wake_at = State.RETRYING, now + delay
            new_state = tolerated_state(task, new_state)
        ok = change_taskrun(
            row, new_state, now, expect=State.RUNNING, _lease_owner=row.lease_owner, attempts=attempts,
            lease_owner="", lease_expires=None, wake_at=wake_at,
        )
        if ok:
            level = "WARN" if new_state == State.RETRYING else "ERROR"
            write_logs(str(exe.id), [PendingLog(str(row.id), row.task_id, len(attempts), level, now, reason)],
                       secret_values(exe.inputs))
        return ok


def _renderer(exe: Execution, spec: Any) -> Callable[[str], str]:
    """Renders retry durations written as expressions, in the execution's context (built
    only if one is needed): the worker that had the task run's own context is gone."""
    context: dict[str, Any] = {}

    def render_one(template: str) -> str:
        if not context:
            rows = list(TaskRun.objects.filter(execution_id=exe.id))
            context.update(ContextBuilder(execution_view(exe, rows), exe.revision_number,
                                          spec.variables or {}).for_execution())
        return render(template, context)

    return render_one
