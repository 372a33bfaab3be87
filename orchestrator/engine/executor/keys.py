"""Identities the executor derives, never draws: a decision applied twice makes one row."""
from __future__ import annotations

import uuid

_TASKRUN_NS = uuid.UUID("6f1c1c4e-7d1f-4b53-9a57-2f0d6c3e9b10")


def run_key(parent_id: str | None, task_id: str, iteration: int | None) -> str:
    """A task run's key: unique in its execution (parent, task, loop iteration)."""
    return f"{parent_id or ''}/{task_id}/{'' if iteration is None else iteration}"


def taskrun_id(execution_id: str, key: str) -> str:
    return str(uuid.uuid5(_TASKRUN_NS, f"{execution_id}/{key}"))


def subflow_execution_id(taskrun_id_: str, attempt: int) -> str:
    return str(uuid.uuid5(_TASKRUN_NS, f"subflow/{taskrun_id_}/{attempt}"))
