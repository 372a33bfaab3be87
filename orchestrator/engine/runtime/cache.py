"""The snapshots of the executions an engine advances, kept between executor passes.

A pass locks the execution row, whose ``seq`` is the head of its journal: only task runs
with a journal entry after the head this cache saw are read again, whichever process
changed them, and they are folded into the snapshot's index (which marks what must be
resolved again). So a pass costs what changed, not the size of the execution. When the
execution's ``version`` moved without this engine (another engine advanced it, a user
restarted it) the cache reads everything again. A pass that fails drops its entry: the
executor changes the snapshot as it decides, and a rolled-back change must not stay.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from orchestrator.engine.executor.index import RunIndex
from orchestrator.engine.executor.snapshot import TaskRunView
from orchestrator.engine.store import ExecutionRow, Store

MAX_EXECUTIONS = 512


@dataclass
class Snapshot:
    runs: list[TaskRunView]
    index: RunIndex
    # The journal head and the execution version this snapshot is up to date with.
    seq: int
    version: int


class SnapshotCache:
    def __init__(self, size: int = MAX_EXECUTIONS) -> None:
        self._entries: OrderedDict[str, Snapshot] = OrderedDict()
        self._size = size

    def load(self, store: Store, exe: ExecutionRow) -> Snapshot:
        snapshot = self._entries.get(exe.id)
        if snapshot is None or snapshot.version != exe.version:
            runs = store.load_taskruns(exe.id)
            snapshot = Snapshot(runs, RunIndex(runs), exe.seq, exe.version)
            self._entries[exe.id] = snapshot
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        elif exe.seq > snapshot.seq:
            for fresh in store.changed_taskruns(exe.id, snapshot.seq):
                if fresh.id not in snapshot.index.by_id:
                    snapshot.runs.append(fresh)
                snapshot.index.put(fresh)
            snapshot.seq = exe.seq
        self._entries.move_to_end(exe.id)
        return snapshot

    def committed(self, execution_id: str, seq: int, version: int) -> None:
        """The pass over this snapshot committed: it is the execution at ``seq``."""
        snapshot = self._entries.get(execution_id)
        if snapshot is not None:
            snapshot.seq, snapshot.version = seq, version

    def drop(self, execution_id: str) -> None:
        self._entries.pop(execution_id, None)

    def seen(self, execution_id: str) -> int | None:
        """The journal head this engine last synced for the execution (None if unknown)."""
        snapshot = self._entries.get(execution_id)
        return snapshot.seq if snapshot is not None else None
