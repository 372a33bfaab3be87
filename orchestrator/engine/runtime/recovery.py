"""Attempts whose worker stopped heartbeating: retried by policy, else failed with a reason."""
from __future__ import annotations

from datetime import datetime

from django.db import transaction

from orchestrator.engine.journal import Event, LogLine
from orchestrator.engine.logs import prepare
from orchestrator.engine.retry import next_delay
from orchestrator.engine.secrets import secret_values
from orchestrator.engine.states import State
from orchestrator.engine.store import LostAttempt, RunChange, Store
from orchestrator.engine.store.specs import SpecCache


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
        new_state, wake_at = State.FAILED, None
        if exe.state == State.KILLING:
            new_state = State.KILLED
        else:
            policy = task.retry or specs.get(exe.revision_id).retry
            if policy is not None:
                delay = next_delay(policy, len(attempts), run.start_date or now, now, run.id)
                if delay is not None:
                    new_state, wake_at = State.RETRYING, now + delay
        run.state, run.attempts, run.lease_owner, run.wake_at = new_state, attempts, "", wake_at
        level = "WARN" if new_state == State.RETRYING else "ERROR"
        line = LogLine(run.id, run.task_id, len(attempts), level, now, reason)
        result = store.commit(
            exe.id, now, logs=prepare([line], secret_values(exe.inputs)),
            runs=[RunChange(run, expect=State.RUNNING, path=[new_state], expect_lease=lost.lease_owner,
                            required=False)],
        )
        return None if result.skipped else result.events
