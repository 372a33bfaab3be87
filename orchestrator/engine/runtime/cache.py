"""Task runs of the executions an engine advances, kept between executor passes.

A pass locks the execution row, whose ``seq`` is the head of its journal: only task runs
with a journal entry after the head this cache saw are read again, whichever process
changed them, so a pass costs what changed, not the size of the execution. When the
execution's ``version`` moved without this engine (another engine advanced it, a user
restarted it) the cache reads everything again. A pass that fails drops its entry, so a
rolled-back change is never kept.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from orchestrator.engine.executor.snapshot import TaskRunView
from orchestrator.engine.store import ExecutionRow, Store

MAX_EXECUTIONS = 512


@dataclass
class Cached:
    runs: dict[str, TaskRunView]
    seq: int
    version: int


class SnapshotCache:
    def __init__(self, size: int = MAX_EXECUTIONS) -> None:
        self._entries: OrderedDict[str, Cached] = OrderedDict()
        self._size = size

    def load(self, store: Store, exe: ExecutionRow) -> list[TaskRunView]:
        cached = self._entries.get(exe.id)
        if cached is None or cached.version != exe.version:
            runs = store.load_taskruns(exe.id)
            self.keep(exe.id, runs, exe.seq, exe.version)
            return runs
        if exe.seq > cached.seq:
            for run in store.changed_taskruns(exe.id, cached.seq):
                cached.runs[run.id] = run
            cached.seq = exe.seq
        self._entries.move_to_end(exe.id)
        return list(cached.runs.values())

    def keep(self, execution_id: str, runs: list[TaskRunView], seq: int, version: int) -> None:
        self._entries[execution_id] = Cached({r.id: r for r in runs}, seq, version)
        self._entries.move_to_end(execution_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def drop(self, execution_id: str) -> None:
        self._entries.pop(execution_id, None)

    def seen(self, execution_id: str) -> int | None:
        """The journal head this engine last synced for the execution (None if unknown)."""
        cached = self._entries.get(execution_id)
        return cached.seq if cached is not None else None
