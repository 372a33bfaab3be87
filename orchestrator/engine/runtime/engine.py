"""The engine inside a process: an executor thread, a queue of workers, maintenance.

An Engine is built from its parts (store, bus, queue backend, clock, event publisher)
and owns the executions it advances: it is one instance in the database's registry,
heartbeating. In-process wake-ups take no time (a condition variable); other processes
reach it through the bus. Maintenance fires timers, renews the heartbeat, and takes over
work nobody does: executions whose owner is gone, attempts whose worker is gone, changes
whose wake-up was lost. An execution is taken over within about a second of its owner
stopping cleanly (the owner releases it and says so on the bus), and within
CHOREO_LEASE_SECONDS of its owner dying.
"""
from __future__ import annotations

import heapq
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils.module_loading import import_string

from orchestrator.engine.bus import KILL, RESCAN, WAKE, Bus, Signal
from orchestrator.engine.events import Changes, Publisher, publish
from orchestrator.engine.journal import Event
from orchestrator.engine.queue.base import Job, QueueBackend
from orchestrator.engine.clock import Clock, SystemClock
from orchestrator.engine.runtime.passes import Effects, Executor, Work
from orchestrator.engine.runtime.recovery import recover_lost_attempt
from orchestrator.engine.store import Store
from orchestrator.engine.store.specs import SpecCache
from orchestrator.engine.worker import SHUTDOWN, Outcome, Worker
from orchestrator.engine.worker.identity import new_instance_id

log = logging.getLogger(__name__)
# Maintenance wakes this often: log lines of running tasks reach the journal within a
# tick even if none follow; scans of the database run every _SCAN_SECONDS.
_TICK_SECONDS = 0.1
_SCAN_SECONDS = 1.0
_STALE_SECONDS = 3.0
_MAX_PASS_FAILURES = 5
# Passes run together in one transaction when that many executions have something pending.
_BATCH = 32
# A wake-up for an execution another live engine owns is ignored for this long.
_FOREIGN_SECONDS = 1.0


class Engine:
    def __init__(self, *, store: Store, bus: Bus, publisher: Publisher, specs: SpecCache,
                 clock: Clock | None = None, changes: Changes | None = None, threads: int | None = None,
                 queue_backend: str | None = None, heartbeat_seconds: float | None = None) -> None:
        self.id = new_instance_id("engine")
        self.store = store
        self.bus = bus
        self.publisher = publisher
        self.specs = specs
        self.clock = clock or SystemClock()
        self.changes = changes or Changes()
        self.heartbeat_seconds = heartbeat_seconds or settings.CHOREO_HEARTBEAT_SECONDS
        self.worker = Worker(self.id, store, specs, self.clock.now, self.publish, self._worker_done,
                             report=self._outcome)
        queue_cls = import_string(queue_backend or settings.CHOREO_QUEUE_BACKEND)
        self.queue: QueueBackend = queue_cls(self._execute, threads or settings.CHOREO_WORKER_THREADS)
        self.executor = Executor(self.id, store, specs, room=self._room)
        self._pending: dict[str, bool] = {}
        # Held while a pass runs: passes are one at a time (on the executor thread, or on a
        # worker thread right after its attempt, see _execute).
        self._passing = threading.Lock()
        # Outcomes of this engine's attempts, waiting for the next pass over their execution.
        self._outcomes: dict[str, list[Outcome]] = {}
        self._cond = threading.Condition()
        self._timers: list[tuple[datetime, str]] = []
        self._stopping = threading.Event()
        self._closing = False
        self._threads: list[threading.Thread] = []
        self._failures: dict[str, int] = {}
        self._foreign: dict[str, float] = {}
        self._last_heartbeat: datetime | None = None
        self._last_scan = 0.0
        self._last_stale = 0.0
        self._rescan = threading.Event()
        self._unsubscribe: Callable[[], None] | None = None

    @classmethod
    def from_settings(cls, threads: int | None = None, **kwargs: Any) -> Engine:
        from orchestrator.engine.infra import infra

        parts = infra()
        return cls(store=parts.store, bus=parts.bus, publisher=parts.publisher, specs=parts.specs,
                   changes=parts.changes, threads=threads, **kwargs)

    # --- lifecycle ------------------------------------------------------------------
    def start(self) -> Engine:
        self.store.register_instance(self.id, "engine", socket.gethostname(), os.getpid(), self.clock.now())
        self._unsubscribe = self.bus.subscribe(self._on_signal)
        self.bus.start()
        self.queue.start()
        loops = (("executor", self._executor_loop), ("maintenance", self._maintenance_loop))
        for name, target in loops:
            thread = threading.Thread(target=target, name=f"choreo-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._rescan.set()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop: start no new attempt, let running ones finish within ``timeout``, then
        interrupt them (they run again elsewhere), release every execution this engine
        owns and tell other engines to take them over. Idempotent."""
        if self._closing:
            return
        self._closing = True
        # A pass already running may have claimed attempts for this process's workers
        # before it saw _closing: let it hand them to the queue, where they are interrupted
        # below. Passes after it claim none (_room is 0 from now on).
        if self._passing.acquire(timeout=timeout):
            self._passing.release()
        deadline = time.monotonic() + timeout
        while self.worker.running.snapshot() and time.monotonic() < deadline:
            time.sleep(0.02)
        for ctx in self.worker.running.snapshot():
            ctx.stop(SHUTDOWN)
        for job in self.queue.drain():
            if job.prepared is not None:
                self.worker.interrupt(job.prepared)
        self.queue.stop(timeout)
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        if self._unsubscribe is not None:
            self._unsubscribe()
        try:
            with self._cond:
                left, self._outcomes = [o for pending in self._outcomes.values() for o in pending], {}
            for outcome in left:
                self.worker.save(outcome)
            released = self.store.release_executions(self.id)
            self.store.deregister_instance(self.id)
            if released:
                self.bus.send(RESCAN)
        finally:
            connection.close()

    def _room(self) -> int:
        """How many attempts a pass may claim for this process's workers: none once stopping."""
        return 0 if self._closing else self.queue.room()

    # --- wake-ups -------------------------------------------------------------------
    def wake(self, execution_id: str, requeue: bool = False) -> None:
        with self._cond:
            self._pending[execution_id] = self._pending.get(execution_id, False) or requeue
            self._cond.notify()

    def _on_signal(self, signal: Signal) -> None:
        if signal.kind == WAKE and signal.target:
            self.wake(signal.target)
        elif signal.kind == KILL and signal.target:
            self.worker.running.kill_execution(signal.target)
            self.wake(signal.target)
        elif signal.kind == RESCAN:
            self._rescan.set()

    def publish(self, events: list[Event]) -> None:
        publish(self.publisher, self.changes, events)

    def _worker_done(self, execution_id: str) -> None:
        self.wake(execution_id)

    def _outcome(self, outcome: Outcome) -> None:
        """A local attempt ended: the next pass over its execution writes it (the worker
        thread runs that pass itself when no pass is running, see _execute; else it tells
        the executor thread)."""
        with self._cond:
            self._outcomes.setdefault(outcome.execution_id, []).append(outcome)
            self._pending.setdefault(outcome.execution_id, False)

    def _execute(self, job: Job | None) -> None:
        """A worker thread: run the job; then, while no pass runs elsewhere, run the pass
        its outcome calls for here and go on with the attempt that pass hands back: a flow
        that runs one task at a time stays on one thread, with no hand-over per task."""
        while job is not None:
            if self._closing:
                if job.prepared is not None:
                    # Claimed for this process, which stops: it runs again elsewhere.
                    self.worker.interrupt(job.prepared)
                return  # a job not claimed yet stays runnable: the engine taking over queues it
            if job.prepared is not None:
                self.worker.run(job.prepared)
            else:
                self.worker.execute(job)
            job = self._continue(job.execution_id)

    def _continue(self, execution_id: str) -> Job | None:
        if self._closing or not self._passing.acquire(blocking=False):
            with self._cond:
                self._cond.notify()
            return None
        try:
            with self._cond:
                if execution_id not in self._pending:
                    return None
                work = Work(execution_id, self._pending.pop(execution_id), self._outcomes.pop(execution_id, []))
            effects = self._advance_one(work)
            if effects is None:
                return None
            mine = next((j for j in effects.jobs if j.prepared is not None), None)
            if mine is not None:
                effects.jobs.remove(mine)
            self._handle(effects)
            return mine
        finally:
            self._passing.release()

    # --- the executor thread ------------------------------------------------------------
    def _next(self) -> list[Work] | None:
        """The passes to run next: up to _BATCH executions that have something pending."""
        with self._cond:
            while not self._pending and not self._stopping.is_set():
                self._cond.wait()
            if self._stopping.is_set():
                return None
            batch = []
            now = time.monotonic()
            for execution_id in list(self._pending)[:_BATCH]:
                requeue = self._pending.pop(execution_id)
                outcomes = self._outcomes.pop(execution_id, [])
                if not requeue and not outcomes and self._foreign.get(execution_id, 0.0) > now:
                    continue
                batch.append(Work(execution_id, requeue, outcomes))
            return batch

    def _executor_loop(self) -> None:
        try:
            while (batch := self._next()) is not None:
                if not batch:
                    continue
                with self._passing:
                    together = self.executor.advance_many(batch, self.clock.now()) if len(batch) > 1 else None
                    results = together if together is not None else [self._advance_one(work) for work in batch]
                    for effects in results:
                        if effects is not None:
                            self._handle(effects)
        finally:
            connection.close()

    def _handle(self, effects: Effects) -> None:
        self._failures.pop(effects.execution_id, None)
        for outcome in effects.unapplied:
            self.worker.save(outcome)
        self.dispatch(effects)

    def _advance_one(self, work: Work) -> Effects | None:
        try:
            return self.executor.advance(work.execution_id, self.clock.now(), requeue=work.requeue,
                                         outcomes=work.outcomes)
        except Exception as exc:
            log.exception("executor: pass over execution %s failed", work.execution_id)
            close_old_connections()
            with self._cond:  # written by a later pass
                self._outcomes.setdefault(work.execution_id, [])[:0] = work.outcomes
            self._pass_failed(work.execution_id, exc)
            return None

    def _pass_failed(self, execution_id: str, exc: Exception) -> None:
        """Retry a failing pass a few times (a lock, a lost connection), then fail the
        execution with the error rather than retrying a poison execution forever."""
        count = self._failures.get(execution_id, 0) + 1
        self._failures[execution_id] = count
        if count < _MAX_PASS_FAILURES:
            self._schedule(self.clock.now() + timedelta(seconds=0.2 * count), execution_id)
            return
        self._failures.pop(execution_id, None)
        try:
            reason = f"Internal error while advancing the execution: {type(exc).__name__}: {exc}"
            self.dispatch(self.executor.fail(execution_id, self.clock.now(), reason))
        except Exception:
            log.exception("executor: could not fail execution %s", execution_id)
            close_old_connections()

    def dispatch(self, effects: Effects) -> None:
        if effects.foreign:
            self._foreign[effects.execution_id] = time.monotonic() + _FOREIGN_SECONDS
            return
        self._foreign.pop(effects.execution_id, None)
        for job in effects.jobs:
            self.queue.submit(job)
        self.publish(effects.events)
        for execution_id in effects.wake:
            self.wake(execution_id)
            if execution_id != effects.execution_id:
                # Its owner may be another process.
                self.bus.send(WAKE, execution_id)
        if effects.wake_at is not None:
            self._schedule(effects.wake_at, effects.execution_id)
        for when, execution_id in effects.timers:
            self._schedule(when, execution_id)

    def _schedule(self, when: datetime, execution_id: str) -> None:
        with self._cond:
            heapq.heappush(self._timers, (when, execution_id))

    # --- maintenance ----------------------------------------------------------------
    def _maintenance_loop(self) -> None:
        try:
            while not self._stopping.wait(self._sleep_time()):
                try:
                    self.maintain()
                except Exception:
                    log.exception("engine maintenance failed; trying again")
                    close_old_connections()
        finally:
            connection.close()

    def _sleep_time(self) -> float:
        if self._rescan.is_set():
            return 0.0
        with self._cond:
            if not self._timers:
                return _TICK_SECONDS
            delta = (self._timers[0][0] - self.clock.now()).total_seconds()
        return max(0.005, min(_TICK_SECONDS, delta))

    def maintain(self) -> None:
        """One round of maintenance; tests call it directly."""
        now = self.clock.now()
        monotonic = time.monotonic()
        self._fire_local_timers(now)
        self._flush_logs()
        # On the engine's clock: after a jump (a test's clock) the lease is renewed before
        # anything is judged by it.
        if self._last_heartbeat is None or (now - self._last_heartbeat).total_seconds() >= self.heartbeat_seconds:
            self._last_heartbeat = now
            if not self.store.heartbeat(self.id, now):
                # This instance was taken for dead: what it owned may be someone else's now.
                self.store.register_instance(self.id, "engine", socket.gethostname(), os.getpid(), now)
                self._rescan.set()
        self.worker.running.check_deadlines(now)
        self.store.checkpoint()
        if self._rescan.is_set() or monotonic - self._last_scan >= _SCAN_SECONDS:
            self._rescan.clear()
            self._last_scan = monotonic
            self.scan(now)

    def scan(self, now: datetime) -> None:
        """Find work nobody does: due timers, executions and attempts whose owner is gone,
        changes of this engine's executions whose wake-up was lost."""
        for execution_id in self.store.due_timers(now, self.id):
            self.wake(execution_id)
        for execution_id, _state in self.store.orphaned_executions(now):
            self.wake(execution_id, requeue=True)
        for lost in self.store.lost_attempts(now):
            events = recover_lost_attempt(self.store, self.specs, lost, now)
            if events is not None:
                self.publish(events)
                self.wake(lost.execution_id)
        for execution_id, head in self.store.owned_heads(self.id):
            seen = self.executor.cache.seen(execution_id)
            if seen is None or head > seen:
                self.wake(execution_id)
        if time.monotonic() - self._last_stale >= _STALE_SECONDS:
            self._last_stale = time.monotonic()
            if self.queue.pending() == 0:
                for execution_id in self.store.stale_runnable(self.id, now - timedelta(seconds=_STALE_SECONDS)):
                    self.wake(execution_id, requeue=True)

    def _flush_logs(self) -> None:
        for ctx in self.worker.running.snapshot():
            try:
                ctx.flush_if_stale(_TICK_SECONDS)
            except Exception:
                log.exception("flushing the logs of task run %s failed", ctx.taskrun_id)
                close_old_connections()

    def _fire_local_timers(self, now: datetime) -> None:
        due: list[str] = []
        with self._cond:
            while self._timers and self._timers[0][0] <= now:
                due.append(heapq.heappop(self._timers)[1])
        for execution_id in due:
            self.wake(execution_id)
