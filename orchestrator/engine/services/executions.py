"""Starting, reading and purging executions."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from orchestrator.engine import launch
from orchestrator.engine.bus import WAKE
from orchestrator.engine.errors import ExecutionNotFound, NotAllowed
from orchestrator.engine.infra import infra
from orchestrator.engine.states import State
from orchestrator.engine.storage import execution_prefix, storage
from orchestrator.engine.store import ExecutionRow, NewExecution


def get_execution(execution_id: str) -> ExecutionRow:
    try:
        uuid.UUID(str(execution_id))
    except ValueError:
        raise ExecutionNotFound(
            f"No execution with id {execution_id!r}: ids look like 1b4e28ba-2fa1-11d2-883f-...") from None
    exe = infra().store.get_execution(str(execution_id))
    if exe is None:
        raise ExecutionNotFound(f"No execution with id {execution_id}")
    return exe


def create_execution(namespace: str, flow_id: str, inputs: Mapping[str, Any], *, revision: int | None = None,
                     labels: Mapping[str, str] | None = None, trigger: dict[str, Any] | None = None,
                     owner: str = "") -> ExecutionRow:
    """Start an execution of the flow's current (or given) revision. ``owner``: the engine
    instance that will advance it (a command running its own engine); by default any
    engine takes it.

    Raises FlowNotFound, NotAllowed or InputError (bad inputs).
    """
    parts = infra()
    new = launch.prepare(parts.store, parts.specs, namespace, flow_id, inputs, revision=revision, labels=labels,
                         trigger=trigger, owner=owner)
    return start(new)


def start(new: NewExecution) -> ExecutionRow:
    """Write a prepared execution and wake the engines."""
    parts = infra()
    now = timezone.now()
    with transaction.atomic():
        events = parts.store.create_execution(new, now)
        parts.bus.send(WAKE, new.id)
    parts.publish(events)
    return ExecutionRow(
        id=new.id, revision_id=new.revision_id, revision=new.revision, namespace=new.namespace,
        flow_id=new.flow_id, state=State.CREATED, inputs=new.inputs, outputs={}, labels=new.labels,
        trigger=new.trigger, parent_id=new.parent_id, parent_taskrun_id=new.parent_taskrun_id,
        original_id=new.original_id, start_date=new.start_date or now, end_date=None, version=0, seq=len(events), owner=new.owner,
        wake_at=new.wake_at, meta=new.meta,
    )


def retried_by(execution_id: str) -> ExecutionRow | None:
    """The execution that retries this one (when it ended RETRIED), if it exists yet."""
    return infra().store.retried_by(str(execution_id))


def purge(execution_id: str) -> int:
    """Delete an execution (and its subflow executions), their logs and stored files."""
    exe = get_execution(execution_id)
    if not exe.state.is_terminal:
        raise NotAllowed(f"Execution {exe.id} is {exe.state.value}: kill it or wait for its end before purging")
    store = infra().store
    removed = storage().delete_prefix(execution_prefix(exe.namespace, exe.flow_id, exe.id))
    for child_id, state in store.child_executions(exe.id):
        if state.is_terminal:
            removed += purge(child_id)
    store.delete_execution(exe.id)
    return removed
