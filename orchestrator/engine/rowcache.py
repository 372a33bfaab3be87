"""Task run rows of active executions, kept by this process between executor passes.

Without it every pass reads every task run of its execution, so a loop over n values
costs O(n^2) row loads. A pass of a cached execution reads the (id, version) pairs and
refetches only the rows whose version moved (every change bumps it, see transitions),
whichever process made the change. Only the executor thread uses it; a pass that fails
drops its execution's entry, so a rolled-back change is never kept.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from flows.models import TaskRun

# Below this many rows one full read is cheaper than the version check plus a fetch.
SMALL = 16
MAX_EXECUTIONS = 256


class RowCache:
    def __init__(self) -> None:
        self._rows: OrderedDict[str, dict[str, TaskRun]] = OrderedDict()

    def load(self, execution_id: str) -> list[TaskRun]:
        cached = self._rows.get(execution_id)
        if cached is None or len(cached) < SMALL:
            return list(_query(execution_id))
        versions = TaskRun.objects.filter(execution_id=execution_id).values_list("id", "version")
        current = {str(row_id): version for row_id, version in versions}
        stale = [row_id for row_id, version in current.items()
                 if row_id not in cached or cached[row_id].version != version]
        fresh = {str(r.id): r for r in TaskRun.objects.filter(id__in=stale).defer("state_history")} if stale else {}
        return [fresh.get(row_id) or cached[row_id] for row_id in current]

    def keep(self, execution_id: str, rows: Iterable[TaskRun]) -> None:
        self._rows[execution_id] = {str(r.id): r for r in rows}
        self._rows.move_to_end(execution_id)
        while len(self._rows) > MAX_EXECUTIONS:
            self._rows.popitem(last=False)

    def drop(self, execution_id: str) -> None:
        self._rows.pop(execution_id, None)


def _query(execution_id: str) -> Iterable[TaskRun]:
    # History is only needed for the few rows a pass changes (read then, on access).
    return TaskRun.objects.filter(execution_id=execution_id).defer("state_history")
