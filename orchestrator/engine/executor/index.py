"""Indexes over an execution's task runs, kept up to date as runs are added or changed.

An executor pass must cost what changed, not the size of the execution: a ForEach over
2,000 values, or 5,000 tasks in a row, is advanced one task run at a time. So the
snapshot keeps, between passes, what every pass would otherwise recompute: runs by id,
by key and by parent, the next creation number, the number of paused runs, a heap of
timers, the ``outputs`` map of expressions, and which flowable task runs changed since
they were last resolved (``dirty``). The executor marks runs as it changes them; the
engine's cache marks the runs other processes changed.
"""
from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from orchestrator.engine.executor.snapshot import TaskRunView
from orchestrator.engine.states import State

# The root block of the flow (its top-level tasks) in ``dirty``.
ROOT = ""


class RunIndex:
    def __init__(self, runs: list[TaskRunView]) -> None:
        self.by_id: dict[str, TaskRunView] = {}
        self.by_key: dict[str, TaskRunView] = {}
        self.children: dict[str, dict[str, TaskRunView]] = {}
        self.next_seq = 1
        self.paused = 0
        # Task runs that failed under CREATE_NEW_EXECUTION: the execution ends RETRIED.
        self.retried: set[str] = set()
        self.outputs: dict[str, Any] = {}
        self._timers: list[tuple[datetime, int, str]] = []
        # Flowable task runs (and ROOT) whose children or own row changed since they
        # were last resolved, and for loops which iterations.
        self.dirty: set[str] = {ROOT}
        self.dirty_iterations: dict[str, set[int]] = {}
        # What resolvers keep between passes (sequence cursors, loop progress); valid as
        # long as no finished task run starts again, which only a restart does (and a
        # restart makes the engine build a new index).
        self.memo: dict[Any, Any] = {}
        for run in runs:
            self.add(run)

    # --- changes ----------------------------------------------------------------------
    def add(self, run: TaskRunView) -> None:
        """A task run new to this snapshot."""
        self.by_id[run.id] = run
        self.by_key[run.key] = run
        self.children.setdefault(run.parent_id or ROOT, {})[run.id] = run
        self.next_seq = max(self.next_seq, run.seq + 1)
        if run.state == State.PAUSED:
            self.paused += 1
        if run.state == State.RETRIED:
            self.retried.add(run.id)
        self._track(run)
        self._mark(run)

    def update(self, run: TaskRunView, old_state: State, outputs_changed: bool = True) -> None:
        """``run`` (already in the index) was changed in place; it was in ``old_state``."""
        self.paused += (run.state == State.PAUSED) - (old_state == State.PAUSED)
        if run.state == State.RETRIED:
            self.retried.add(run.id)
        else:
            self.retried.discard(run.id)
        if outputs_changed and run.outputs:
            self._set_outputs(run)
        if run.wake_at is not None:
            heapq.heappush(self._timers, (run.wake_at, run.seq, run.id))
        self._mark(run)

    def put(self, fresh: TaskRunView) -> TaskRunView:
        """A row read again from the store: copied into the run the snapshot holds (every
        reference to it stays valid), or added. Returns the run the snapshot holds."""
        run = self.by_id.get(fresh.id)
        if run is None:
            self.add(fresh)
            return fresh
        old_state, old_outputs = run.state, run.outputs
        run.__dict__.update(fresh.__dict__)
        self.update(run, old_state, outputs_changed=run.outputs != old_outputs)
        return run

    def _mark(self, run: TaskRunView) -> None:
        self.dirty.add(run.id)
        parent = run.parent_id or ROOT
        self.dirty.add(parent)
        if run.iteration is not None and run.parent_id:
            self.dirty_iterations.setdefault(run.parent_id, set()).add(run.iteration)

    def _track(self, run: TaskRunView) -> None:
        if run.outputs:
            self._set_outputs(run)
        if run.wake_at is not None and not run.state.is_terminal:
            heapq.heappush(self._timers, (run.wake_at, run.seq, run.id))

    # --- reads ----------------------------------------------------------------------------
    def children_of(self, parent_id: str | None) -> list[TaskRunView]:
        return list(self.children.get(parent_id or ROOT, {}).values())

    def ancestors(self, run: TaskRunView) -> list[TaskRunView]:
        """Nearest first."""
        chain = []
        current = self.by_id.get(run.parent_id) if run.parent_id else None
        while current is not None:
            chain.append(current)
            current = self.by_id.get(current.parent_id) if current.parent_id else None
        return chain

    def loop_path(self, run: TaskRunView) -> list[str]:
        """Loop values from the outermost loop down to ``run`` (empty outside loops)."""
        chain = [run, *self.ancestors(run)]
        return [r.value for r in reversed(chain) if r.iteration is not None and r.value is not None]

    def due(self, now: datetime) -> Iterator[TaskRunView]:
        """Unfinished task runs whose timer is due (stale heap entries are dropped)."""
        self._drop_stale()
        for when, _, run_id in sorted(e for e in self._timers if e[0] <= now):
            run = self.by_id.get(run_id)
            if run is not None and run.wake_at == when and not run.state.is_terminal:
                yield run

    def next_timer(self) -> datetime | None:
        self._drop_stale()
        return self._timers[0][0] if self._timers else None

    def _drop_stale(self) -> None:
        while self._timers:
            when, _, run_id = self._timers[0]
            run = self.by_id.get(run_id)
            if run is not None and run.wake_at == when and not run.state.is_terminal:
                return
            heapq.heappop(self._timers)

    def take_dirty(self) -> tuple[list[TaskRunView], bool]:
        """The dirty flowable candidates in creation order, and whether ROOT is dirty."""
        dirty, self.dirty = self.dirty, set()
        root = ROOT in dirty
        runs = sorted((self.by_id[i] for i in dirty if i in self.by_id), key=lambda r: r.seq)
        return runs, root

    def take_dirty_iterations(self, parent_id: str) -> set[int]:
        return self.dirty_iterations.pop(parent_id, set())

    # --- the outputs map ----------------------------------------------------------------------
    def _set_outputs(self, run: TaskRunView) -> None:
        """``outputs.<task>`` as Kestra exposes it; inside loops keyed by each loop value."""
        path = self.loop_path(run)
        if not path:
            self.outputs[run.task_id] = run.outputs
            return
        node = self.outputs.setdefault(run.task_id, {})
        for value in path[:-1]:
            node = node.setdefault(value, {})
        node[path[-1]] = run.outputs
