"""What a new execution is made of: the flow's revision, its validated inputs (FILE inputs
copied into internal storage, SECRET inputs sealed) and its labels.

Used for every start: a user's run, a subflow task, a retry in a new execution.
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrator.engine.dsl import InputError, resolve_inputs
from orchestrator.engine.errors import FlowNotFound, NotAllowed
from orchestrator.engine.secrets import seal_inputs
from orchestrator.engine.storage import SCHEME, storage, task_uri
from orchestrator.engine.executor.retries import CHAIN_ATTEMPT, CHAIN_STARTED, NOT_BEFORE, RETRY_OF
from orchestrator.engine.store import ExecutionRow, NewExecution, Store
from orchestrator.engine.store.specs import SpecCache
from orchestrator.engine.system_labels import CORRELATION_ID, correlation_id


def prepare(store: Store, specs: SpecCache, namespace: str, flow_id: str, inputs: Mapping[str, Any], *,
            revision: int | None = None, labels: Mapping[str, Any] | None = None, execution_id: str | None = None,
            parent_id: str | None = None, parent_taskrun_id: str | None = None,
            trigger: dict[str, Any] | None = None, original_id: str | None = None,
            meta: dict[str, Any] | None = None, owner: str = "", wake_at: datetime | None = None) -> NewExecution:
    """A new execution of the flow's current (or given) revision.

    Raises FlowNotFound, NotAllowed (a disabled flow) or InputError (bad inputs).
    """
    found = store.current_revision(namespace, flow_id, revision)
    if found is None:
        if revision is not None and store.current_revision(namespace, flow_id) is not None:
            raise FlowNotFound(f"Flow {namespace}.{flow_id} has no revision {revision}")
        raise FlowNotFound(f"No flow {namespace}.{flow_id}: deploy it first (flows deploy FILE)")
    revision_id, number, disabled = found
    if disabled:
        raise NotAllowed(f"Flow {namespace}.{flow_id} is disabled")
    spec = specs.get(revision_id)
    values = resolve_inputs(spec.inputs or [], dict(inputs))
    execution_id = execution_id or str(uuid.uuid4())
    values = _upload_files(spec, values, namespace, flow_id, execution_id)
    secret_ids = [i.id for i in spec.inputs or [] if str(i.type).upper().endswith("SECRET")]
    all_labels = {**(spec.labels or {}), **dict(labels or {})}
    # The first execution of a chain is its own correlation id; subflows pass theirs on.
    all_labels.setdefault(CORRELATION_ID, execution_id)
    return NewExecution(
        id=execution_id, revision_id=revision_id, revision=number, namespace=namespace, flow_id=flow_id,
        inputs=seal_inputs(values, secret_ids), labels=all_labels,
        trigger=trigger, parent_id=parent_id, parent_taskrun_id=parent_taskrun_id, original_id=original_id,
        meta=meta or {}, owner=owner, wake_at=wake_at,
    )


def retry_of(failed: ExecutionRow, start_at: datetime, attempt: int, chain_started: datetime,
             owner: str = "") -> NewExecution:
    """The execution that retries ``failed`` (retry behavior CREATE_NEW_EXECUTION): the same
    flow revision, inputs (as stored), labels, trigger and parent task run, attempt
    ``attempt`` of the chain, not started before ``start_at``. Its id is derived from the
    failed one's, so creating it twice is harmless."""
    return NewExecution(
        id=str(uuid.uuid5(uuid.UUID(failed.id), f"retry/{attempt}")), revision_id=failed.revision_id,
        revision=failed.revision, namespace=failed.namespace, flow_id=failed.flow_id, inputs=failed.inputs,
        labels={**failed.labels, CORRELATION_ID: correlation_id(failed.labels, failed.id)}, trigger=failed.trigger,
        parent_id=failed.parent_id, parent_taskrun_id=failed.parent_taskrun_id, original_id=failed.id,
        meta={**{k: v for k, v in failed.meta.items() if k == "depth"}, CHAIN_ATTEMPT: attempt,
              CHAIN_STARTED: chain_started.isoformat(), RETRY_OF: failed.id, NOT_BEFORE: start_at.isoformat()},
        owner=owner, wake_at=start_at, start_date=start_at,
    )


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
