"""Attempts whose worker stopped heartbeating: retried by policy, else failed with a reason."""
from __future__ import annotations

from datetime import datetime

from django.db import transaction

from flows.models import Execution, TaskRun
from orchestrator.engine.logs import PendingLog, write_logs
from orchestrator.engine.executor.retries import NEW_EXECUTION_AT, Chain, Next, after_failure, policy_for
from orchestrator.engine.specs import spec_for_revision
from orchestrator.engine.states import State
from orchestrator.engine.transitions import change_taskrun


def recover_lost_attempt(row: TaskRun, now: datetime) -> bool:
    """Settle one RUNNING task run whose lease expired. False if someone else did first."""
    with transaction.atomic():
        exe = Execution.objects.select_for_update().only("id", "state", "revision_id", "meta", "start_date").get(
            id=row.execution_id)
        spec = spec_for_revision(exe.revision_id)
        attempts = [dict(a) for a in row.attempts]
        if attempts:
            attempts[-1].update(state=State.FAILED.value, endDate=now.isoformat())
        reason = (
            f"Task [{row.task_id}] lost its worker: {row.lease_owner or 'a worker'} stopped heartbeating "
            f"(lease expired at {row.lease_expires.isoformat() if row.lease_expires else 'unknown'})"
        )
        new_state, wake_at, meta = State.FAILED, None, dict(row.meta)
        if exe.state == State.KILLING.value:
            new_state = State.KILLED
        else:
            # The same rules as a worker reporting a failed attempt (executor.retries).
            plan = after_failure(policy_for(spec, row.task_id), attempts=len(attempts),
                                 first_start=row.start_date or now, now=now, seed=str(row.id),
                                 chain=Chain.of(exe.meta, exe.start_date))
            if plan.next == Next.RETRY_TASK:
                new_state, wake_at = State.RETRYING, plan.at
            elif plan.next == Next.NEW_EXECUTION and plan.at is not None:
                new_state, meta[NEW_EXECUTION_AT] = State.RETRIED, plan.at.isoformat()
        ok = change_taskrun(
            row, new_state, now, expect=State.RUNNING, _lease_owner=row.lease_owner, attempts=attempts,
            lease_owner="", lease_expires=None, wake_at=wake_at, meta=meta,
        )
        if ok:
            level = "WARN" if new_state in (State.RETRYING, State.RETRIED) else "ERROR"
            write_logs(str(exe.id), [PendingLog(str(row.id), row.task_id, len(attempts), level, now, reason)])
        return ok
