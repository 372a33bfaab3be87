"""One executor pass: lock the execution, bring its snapshot up to date, ``decide``, and
commit the decisions through the store's one door in the same transaction.

Jobs for workers, wake-ups of other executions and events leave only after commit (the
engine dispatches the returned Effects).
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from django.db import IntegrityError, OperationalError, transaction

from orchestrator.engine import launch
from orchestrator.engine.dsl import InputError
from orchestrator.engine.errors import FlowNotFound, ServiceError
from orchestrator.engine.executor.context import outputs_map
from orchestrator.engine.executor.decide import Decider
from orchestrator.engine.executor.flowables import START_ERROR
from orchestrator.engine.executor.decisions import (
    CreateTaskRun,
    Decision,
    LogLine as Say,
    RetryExecution,
    StartSubflow,
    UpdateExecution,
    UpdateTaskRun,
)
from orchestrator.engine.executor.snapshot import ExecutionView, TaskRunView
from orchestrator.engine.journal import Event, LogLine
from orchestrator.engine.logs import prepare
from orchestrator.engine.queue.base import Job
from orchestrator.engine.runtime.cache import Snapshot, SnapshotCache
from orchestrator.engine.secrets import mask_values, masks, unseal_inputs
from orchestrator.engine.states import State
from orchestrator.engine.store import Conflict, ExecutionChange, ExecutionRow, RunChange, Store
from orchestrator.engine.store.specs import InvalidStoredFlow, SpecCache
from orchestrator.engine.worker import Assignment, Outcome
from orchestrator.engine.worker.paths import remove_shared
from orchestrator.engine.worker.worker import LazyOutputs, assignment, mentions_outputs, outputs_of

log = logging.getLogger(__name__)
_WAITING_FOR_WORKER = (State.CREATED, State.QUEUED, State.RESTARTED)
_MAX_SUBFLOW_DEPTH = 20
_ATTEMPTS = 10


@dataclass
class Work:
    """A pass to run: over ``execution_id``, writing ``outcomes`` of local attempts."""

    execution_id: str
    requeue: bool = False
    outcomes: list[Outcome] = field(default_factory=list)


@dataclass
class Effects:
    """What a pass leaves to do once committed."""

    execution_id: str
    jobs: list[Job] = field(default_factory=list)
    wake: set[str] = field(default_factory=set)
    events: list[Event] = field(default_factory=list)
    wake_at: datetime | None = None
    # Timers of other executions this pass created (a retry's new execution).
    timers: list[tuple[datetime, str]] = field(default_factory=list)
    # Another live engine owns the execution: this one left it alone.
    foreign: bool = False
    # Outcomes of attempts this pass could not apply (the execution is someone else's, or
    # over): the worker's guarded write decides what becomes of them.
    unapplied: list[Outcome] = field(default_factory=list)


class Executor:
    """Runs passes for one engine instance (one thread), with its snapshot cache.

    The outcomes of this engine's own workers are written by the next pass over their
    execution, in its transaction; and a task run the pass makes runnable while local
    workers have room (QueueBackend.room) is claimed in that same transaction and handed
    over with its context. A step of a flow then costs one transaction, not three (report, pass, claim)."""

    def __init__(self, owner: str, store: Store, specs: SpecCache,
                 room: Callable[[], int] = lambda: 0) -> None:
        self.owner = owner
        self.store = store
        self.specs = specs
        self.room = room
        # Room left in local workers for the current batch of passes (None: ask).
        self._budget: int | None = None
        self.cache = SnapshotCache()

    def advance_many(self, work: Sequence[Work], now: datetime) -> list[Effects] | None:
        """Passes over several executions in one transaction (one commit for all: with many
        executions under way, the commit is what a pass costs most). None if any of them
        loses a race or fails: the transaction rolled back, run them one at a time."""
        self._budget = self.room()
        try:
            with transaction.atomic():
                return [self._advance(w.execution_id, now, w.requeue, w.outcomes) for w in work]
        except Exception as exc:
            log.debug("a batch of %d passes failed (%s): one at a time", len(work), exc)
            for item in work:
                self.cache.drop(item.execution_id)
            return None
        finally:
            self._budget = None

    def advance(self, execution_id: str, now: datetime, *, requeue: bool = False,
                outcomes: Sequence[Outcome] = ()) -> Effects:
        """One pass over ``execution_id`` (writing ``outcomes`` of local attempts), retried
        on a lost race."""
        for _ in range(_ATTEMPTS):
            try:
                with transaction.atomic():
                    return self._advance(execution_id, now, requeue, outcomes)
            except (Conflict, IntegrityError, OperationalError) as exc:
                # OperationalError: a deadlock or serialisation failure PostgreSQL resolved
                # by aborting this transaction; the pass starts again from the database.
                log.debug("execution %s: pass lost a race (%s); again", execution_id, exc)
                self.cache.drop(execution_id)
            except BaseException:
                self.cache.drop(execution_id)
                raise
        log.warning("execution %s: gave up a pass after repeated conflicts; it will be retried", execution_id)
        return Effects(execution_id, wake={execution_id}, unapplied=list(outcomes))

    def _advance(self, execution_id: str, now: datetime, requeue: bool, outcomes: Sequence[Outcome]) -> Effects:
        effects = Effects(execution_id)
        exe = self.store.lock_execution(execution_id, now)
        if exe is None or exe.state.is_terminal:
            self.cache.drop(execution_id)
            effects.unapplied = list(outcomes)
            return effects
        if exe.owner not in ("", self.owner) and exe.owner_alive:
            effects.foreign = True
            effects.unapplied = list(outcomes)
            return effects
        taking_over = exe.owner != self.owner
        snapshot = self.cache.load(self.store, exe)
        reported = self._apply_outcomes(snapshot, exe, outcomes, effects)
        try:
            spec = self.specs.get(exe.revision_id)
        except InvalidStoredFlow as exc:
            return self._fail(exe, snapshot.runs, now, f"The flow cannot be loaded: {exc}")
        view = _view(exe, snapshot.runs)
        if spec.concurrency is not None and exe.state in (State.CREATED, State.QUEUED):
            view.running_of_flow = self.store.holding_slots(exe.namespace, exe.flow_id, exe.id)
        decider = Decider(spec, view, now, snapshot.index)
        decisions = decider.run()
        final = decider.exe
        write = _Write.of(decisions, decider, now, reported.changes)
        for start in write.subflows:
            self._start_subflow(exe, start, decider, write, effects, now)
        for retry in write.retries:
            new = launch.retry_of(exe, retry.start_at, retry.attempt, retry.chain_started, owner=self.owner)
            if self.store.get_execution(new.id) is None:
                self.store.create_execution(new, now)
            # Created with its wake time: a timer starts it, no thread waits (the maintenance
            # scan of due timers would too, in any process, if this one stops first).
            effects.timers.append((retry.start_at, new.id))
        wake_at = decider.next_wake()
        effects.wake_at = wake_at
        fields: dict[str, Any] = {}
        hidden = masks(exe.inputs, spec.secret_names) if write.outputs or write.logs else []
        if write.outputs is not None:
            write.outputs = mask_values(write.outputs, hidden)
            fields["outputs"] = write.outputs
        if wake_at != exe.wake_at:
            fields["wake_at"] = wake_at
        end = write.exe_path[-1] if write.exe_path else exe.state
        if taking_over and not end.is_terminal:
            fields["owner"] = self.owner
        # Runnable task runs of this pass go to workers of this process claimed already.
        prepared = self._claim_locally(exe, spec, decider, write, now) if not end.is_terminal else {}
        if decisions or fields or reported.changes:
            change = ExecutionChange(write.exe_path, exe.state, fields, version=exe.version,
                                     merge_labels=reported.labels or None)
            result = self.store.commit(
                exe.id, now, execution=change, created=list(write.created.values()),
                runs=list(write.changes.values()),
                logs=reported.logs + prepare(write.logs, hidden),
            )
            effects.events = result.events
            seq, version = result.seq, result.version
        else:
            seq, version = exe.seq, exe.version
        if end.is_terminal:
            self.cache.drop(exe.id)
            self._ended(exe, final, end, spec, write.outputs, now, effects)
        else:
            self.cache.committed(exe.id, seq, version)
        # Runnable task runs may have been queued in a process that is gone (a takeover),
        # or made runnable again by a user (a restart): queue them here.
        requeue = requeue or taking_over or exe.state == State.RESTARTED
        self._jobs(exe, spec, decider, write, requeue, effects, prepared)
        return effects

    # --- outcomes of local attempts, and local claims ----------------------------------------
    def _apply_outcomes(self, snapshot: Snapshot, exe: ExecutionRow, outcomes: Sequence[Outcome],
                        effects: Effects) -> _Reported:
        """Fold the outcomes of this engine's attempts into the snapshot (so this pass decides
        on them) and into the changes it commits. An attempt no longer running under its
        lease (taken over, killed elsewhere) is left to the worker's guarded write."""
        reported = _Reported()
        for outcome in outcomes:
            run = snapshot.index.by_id.get(outcome.run.id)
            if run is None or run.state != State.RUNNING or run.lease_owner != outcome.lease:
                effects.unapplied.append(outcome)
                continue
            fresh = outcome.run
            run.attempts, run.outputs, run.meta = fresh.attempts, fresh.outputs, fresh.meta
            run.wake_at, run.lease_owner, run.end_date = fresh.wake_at, fresh.lease_owner, fresh.end_date
            run.state = fresh.state
            snapshot.index.update(run, State.RUNNING)
            reported.changes[run.id] = RunChange(run, expect=State.RUNNING, path=[fresh.state],
                                                 expect_lease=outcome.lease)
            reported.logs.extend(outcome.logs)
            reported.labels.update(outcome.labels)
        if reported.labels:
            # Tasks this pass starts see them.
            exe.labels = {**exe.labels, **reported.labels}
        return reported

    def _claim_locally(self, exe: ExecutionRow, spec: Any, decider: Decider, write: _Write,
                       now: datetime) -> dict[str, Assignment]:
        """Claim, in this pass, the runnable task runs it makes that local workers have room
        for; their attempts start with the context the pass already holds."""
        room = self.room() if self._budget is None else self._budget
        slots = min(room, len(write.enqueue))
        prepared: dict[str, Assignment] = {}
        running = copy.copy(exe)
        running.state = decider.exe.state
        for run_id in write.enqueue[:slots]:
            run = decider.by_id[run_id]
            if run.state not in (State.CREATED, State.QUEUED):
                continue
            old = run.state
            run.attempts = [*run.attempts, {"state": State.RUNNING.value, "startDate": now.isoformat(),
                                            "worker": self.owner}]
            run.lease_owner = self.owner
            run.start_date = run.start_date or now
            run.state = State.RUNNING
            decider.index.update(run, old, outputs_changed=False)
            write.step(run, old, State.RUNNING)
            task = spec.task(run.task_id)
            ancestors = decider.index.ancestors(run)
            outputs: Any = (outputs_map(decider.exe.taskruns, decider.by_id) if mentions_outputs(spec, task)
                            else LazyOutputs(partial(outputs_of, self.store, exe.id)))
            # The worker's own copy: the snapshot's run stays the executor's.
            mine = copy.copy(run)
            mine.attempts, mine.outputs, mine.meta = [dict(a) for a in run.attempts], dict(run.outputs), dict(run.meta)
            prepared[run.id] = assignment(spec, running, mine, ancestors, len(run.attempts), outputs,
                                          decider.contexts.base)
        if self._budget is not None:
            self._budget -= len(prepared)
        return prepared

    # --- after the decisions ----------------------------------------------------------------
    def _jobs(self, exe: ExecutionRow, spec: Any, decider: Decider, write: _Write, requeue: bool,
              effects: Effects, prepared: dict[str, Assignment]) -> None:
        final = decider.exe
        if final.state.is_terminal or final.state == State.KILLING:
            return
        ids = list(write.enqueue)
        if requeue:
            ids += [r.id for r in final.taskruns if r.state in _WAITING_FOR_WORKER and r.id not in write.enqueue
                    and not spec.task(r.task_id).is_flowable]
        for run_id in ids:
            run = decider.by_id[run_id]
            if run_id in prepared:
                job = prepared[run_id]
                effects.jobs.append(Job(exe.id, run.id, exe.revision_id, job.attempt, prepared=job))
            elif run.state in _WAITING_FOR_WORKER:
                effects.jobs.append(Job(exe.id, run.id, exe.revision_id, len(run.attempts) + 1))

    def _start_subflow(self, exe: ExecutionRow, start: StartSubflow, decider: Decider, write: _Write,
                       effects: Effects, now: datetime) -> None:
        depth = int(exe.meta.get("depth", 0)) + 1
        target = f"{start.namespace}.{start.flow_id}"
        try:
            if depth > _MAX_SUBFLOW_DEPTH:
                raise ServiceError(f"subflows nested deeper than {_MAX_SUBFLOW_DEPTH} levels: does {target} call itself?")
            new = launch.prepare(
                self.store, self.specs, start.namespace, start.flow_id, start.inputs, revision=start.revision,
                labels=start.labels, execution_id=start.execution_id, parent_id=exe.id,
                parent_taskrun_id=start.taskrun_id, trigger={"type": "subflow", "executionId": exe.id},
                meta={"depth": depth}, owner=self.owner,
            )
            self.store.create_execution(new, now)
        except InputError as exc:
            self._not_started(start, decider, write, effects, f"Subflow {target} refused its inputs: "
                              f"{'; '.join(exc.messages)}. Fix the task's inputs or the flow's input definitions.")
            return
        except FlowNotFound as exc:
            self._not_started(start, decider, write, effects, f"Cannot start subflow {target}: {exc} "
                              "(or correct the task's namespace, flowId or revision)")
            return
        except ServiceError as exc:
            self._not_started(start, decider, write, effects, f"Cannot start subflow {target}: {exc}")
            return
        effects.wake.add(new.id)

    @staticmethod
    def _not_started(start: StartSubflow, decider: Decider, write: _Write, effects: Effects, reason: str) -> None:
        """Only this layer sees that the flow is missing or refuses the inputs: note why on
        the task run (its meta already names the child) and let the executor's next pass
        decide (retry the attempt or fail the task run, see flowables.subflow)."""
        run = decider.by_id[start.taskrun_id]
        run.meta = {**run.meta, START_ERROR: reason}
        write.step(run, run.state, run.state)
        decider.index.update(run, run.state)  # its resolver runs again in the next pass
        effects.wake.add(decider.exe.id)

    def _ended(self, exe: ExecutionRow, final: ExecutionView, end: State, spec: Any,
               outputs: dict[str, Any] | None, now: datetime, effects: Effects) -> None:
        transaction.on_commit(partial(remove_shared, exe.id))
        # A RETRIED subflow execution is not the end of the child: the execution retrying it
        # carries the same parent task run and reports to it.
        if exe.parent_taskrun_id and exe.parent_id and end != State.RETRIED:
            self._notify_parent(exe, final, end, outputs if outputs is not None else exe.outputs, now, effects)
        if spec.concurrency is not None:
            queued = self.store.oldest_queued(exe.namespace, exe.flow_id)
            if queued is not None:
                effects.wake.add(queued)

    def _notify_parent(self, exe: ExecutionRow, final: ExecutionView, end: State, outputs: dict[str, Any],
                       now: datetime, effects: Effects) -> None:
        """A subflow execution ended: hand its result to the parent's task run."""
        assert exe.parent_id is not None and exe.parent_taskrun_id is not None
        found = self.store.get_taskruns([exe.parent_taskrun_id])
        if not found or found[0].state.is_terminal:
            return
        run = found[0]
        by_id = {r.id: r for r in final.taskruns}
        run.meta = {**run.meta, "child": {"state": end.value, "outputs": outputs,
                                          "taskOutputs": outputs_map(final.taskruns, by_id)}}
        result = self.store.commit(exe.parent_id, now, runs=[RunChange(run, expect=run.state)])
        effects.events.extend(result.events)
        effects.wake.add(exe.parent_id)

    # --- a pass that cannot decide ----------------------------------------------------------
    def fail(self, execution_id: str, now: datetime, reason: str) -> Effects:
        """End an execution FAILED from outside the executor (its passes keep failing)."""
        with transaction.atomic():
            exe = self.store.lock_execution(execution_id, now)
            if exe is None or exe.state.is_terminal:
                return Effects(execution_id)
            return self._fail(exe, self.store.load_taskruns(execution_id), now, reason)

    def _fail(self, exe: ExecutionRow, runs: list[TaskRunView], now: datetime, reason: str) -> Effects:
        self.cache.drop(exe.id)
        changes = []
        for run in runs:
            if run.state.is_terminal:
                continue
            expect = run.state
            run.state, run.lease_owner, run.wake_at = State.FAILED, "", None
            changes.append(RunChange(run, expect=expect, path=[State.FAILED]))
        final = State.KILLED if exe.state == State.KILLING else State.FAILED
        line = LogLine(None, "", None, "ERROR", now, reason)
        result = self.store.commit(
            exe.id, now, runs=changes, logs=prepare([line], masks(exe.inputs)),
            execution=ExecutionChange([final], exe.state, {"wake_at": None, "meta": {**exe.meta, "reason": reason}},
                                      version=exe.version),
        )
        return Effects(exe.id, events=result.events)


@dataclass
class _Write:
    """The decisions of a pass as the store's changes."""

    created: dict[str, tuple[TaskRunView, list[State]]] = field(default_factory=dict)
    changes: dict[str, RunChange] = field(default_factory=dict)
    exe_path: list[State] = field(default_factory=list)
    outputs: dict[str, Any] | None = None
    logs: list[LogLine] = field(default_factory=list)
    subflows: list[StartSubflow] = field(default_factory=list)
    retries: list[RetryExecution] = field(default_factory=list)
    enqueue: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, decisions: list[Decision], decider: Decider, now: datetime,
           changes: dict[str, RunChange]) -> _Write:
        write = cls(changes=dict(changes))
        for d in decisions:
            if isinstance(d, CreateTaskRun):
                run = decider.by_id[d.run.id]
                write.created[run.id] = (run, [] if d.run.state == State.CREATED else [d.run.state])
                if d.enqueue:
                    write.enqueue.append(run.id)
            elif isinstance(d, UpdateTaskRun):
                write.step(decider.by_id[d.id], d.old, d.new)
                if d.enqueue:
                    write.enqueue.append(d.id)
            elif isinstance(d, UpdateExecution):
                write.exe_path.append(d.new)
                if d.outputs is not None:
                    write.outputs = d.outputs
            elif isinstance(d, StartSubflow):
                write.subflows.append(d)
            elif isinstance(d, RetryExecution):
                write.retries.append(d)
            elif isinstance(d, Say):
                run_ = decider.by_id.get(d.taskrun_id) if d.taskrun_id else None
                write.logs.append(LogLine(d.taskrun_id, run_.task_id if run_ else "", None, d.level, now,
                                          d.message))
        return write

    def step(self, run: TaskRunView, old: State, new: State) -> None:
        if run.id in self.created:
            path = self.created[run.id][1]
            if new != (path[-1] if path else State.CREATED):
                path.append(new)
            return
        change = self.changes.get(run.id)
        if change is None:
            change = self.changes[run.id] = RunChange(run, expect=old)
        if new != (change.path[-1] if change.path else change.expect):
            change.path.append(new)


@dataclass
class _Reported:
    """What the outcomes of local attempts add to a pass's commit."""

    changes: dict[str, RunChange] = field(default_factory=dict)
    logs: list[LogLine] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)


def _view(exe: ExecutionRow, runs: list[TaskRunView]) -> ExecutionView:
    return ExecutionView(
        id=exe.id, namespace=exe.namespace, flow_id=exe.flow_id, revision=exe.revision, state=exe.state,
        start_date=exe.start_date, inputs=unseal_inputs(exe.inputs), labels=exe.labels, trigger=exe.trigger,
        original_id=exe.original_id,
        parent={"id": exe.parent_id, "taskrunId": exe.parent_taskrun_id} if exe.parent_id else None,
        meta=exe.meta, taskruns=runs,
    )
