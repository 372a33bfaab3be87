"""Column lists of the hot tables and the conversions between their rows and plain data."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchestrator.engine.executor.snapshot import TaskRunView
from orchestrator.engine.states import State
from orchestrator.engine.store.base import ExecutionRow
from orchestrator.engine.store.dialect import Dialect

EXECUTION = "flows_execution"
TASKRUN = "flows_taskrun"
EVENT = "flows_executionevent"
LOG = "flows_logentry"
INSTANCE = "flows_engineinstance"
SIGNAL = "flows_bussignal"

EXECUTION_COLUMNS = (
    "id", "revision_id", "revision_number", "namespace", "flow_id", "state", "inputs", "outputs", "labels",
    "trigger", "parent_execution_id", "parent_taskrun_id", "original_execution_id", "start_date", "end_date",
    "version", "seq", "owner", "wake_at", "meta",
)
TASKRUN_COLUMNS = (
    "id", "task_id", "parent_id", "value", "iteration", "key", "seq", "state", "attempts", "outputs", "meta",
    "wake_at", "start_date", "end_date", "version", "lease_owner",
)
# Execution columns a change may set, and how their values are written.
JSON_FIELDS = frozenset({"outputs", "labels", "meta", "inputs", "trigger"})
DATE_FIELDS = frozenset({"wake_at", "end_date", "start_date"})
PLAIN_FIELDS = frozenset({"owner", "state"})


def select_list(columns: Sequence[str], alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{c}" for c in columns)


EXECUTION_SELECT = select_list(EXECUTION_COLUMNS)
TASKRUN_SELECT = select_list(TASKRUN_COLUMNS)


def execution_row(d: Dialect, r: Sequence[Any]) -> ExecutionRow:
    return ExecutionRow(
        id=d.uuid_out(r[0]) or "", revision_id=r[1], revision=r[2], namespace=r[3], flow_id=r[4],
        state=State(r[5]), inputs=d.json_out(r[6]) or {}, outputs=d.json_out(r[7]) or {},
        labels=d.json_out(r[8]) or {}, trigger=d.json_out(r[9]), parent_id=d.uuid_out(r[10]),
        parent_taskrun_id=d.uuid_out(r[11]), original_id=d.uuid_out(r[12]),
        start_date=d.dt_out(r[13]),  # type: ignore[arg-type]
        end_date=d.dt_out(r[14]), version=r[15], seq=r[16], owner=r[17], wake_at=d.dt_out(r[18]),
        meta=d.json_out(r[19]) or {},
    )


def taskrun_view(d: Dialect, r: Sequence[Any]) -> TaskRunView:
    return TaskRunView(
        id=d.uuid_out(r[0]) or "", task_id=r[1], parent_id=d.uuid_out(r[2]), value=r[3], iteration=r[4],
        key=r[5], seq=r[6], state=State(r[7]), attempts=d.json_out(r[8]) or [], outputs=d.json_out(r[9]) or {},
        meta=d.json_out(r[10]) or {}, wake_at=d.dt_out(r[11]), start_date=d.dt_out(r[12]),
        end_date=d.dt_out(r[13]), version=r[14], lease_owner=r[15],
    )


def taskrun_insert_params(d: Dialect, execution_id: Any, run: TaskRunView) -> list[Any]:
    return [
        d.uuid(run.id), execution_id, run.task_id, d.uuid(run.parent_id), run.value, run.iteration, run.key,
        run.seq, run.state.value, d.json(run.attempts), d.json(run.outputs), d.json(run.meta), d.dt(run.wake_at),
        d.dt(run.start_date), d.dt(run.end_date), run.version, run.lease_owner,
    ]


TASKRUN_INSERT = (
    f"INSERT INTO {TASKRUN} (id, execution_id, task_id, parent_id, value, iteration, key, seq, state, attempts, "
    "outputs, meta, wake_at, start_date, end_date, version, lease_owner) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
TASKRUN_UPDATE = (
    f"UPDATE {TASKRUN} SET state = %s, attempts = %s, outputs = %s, meta = %s, wake_at = %s, start_date = %s, "
    "end_date = %s, lease_owner = %s, version = version + 1 WHERE id = %s AND state = %s"
)


def taskrun_update_params(d: Dialect, run: TaskRunView, expect: State) -> list[Any]:
    return [
        run.state.value, d.json(run.attempts), d.json(run.outputs), d.json(run.meta), d.dt(run.wake_at),
        d.dt(run.start_date), d.dt(run.end_date), run.lease_owner, d.uuid(run.id), expect.value,
    ]


EVENT_INSERT = (
    f"INSERT INTO {EVENT} (execution_id, seq, type, taskrun_id, state, date, payload) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
LOG_INSERT = (
    f"INSERT INTO {LOG} (execution_id, taskrun_id, task_id, attempt, seq, level, timestamp, message) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
