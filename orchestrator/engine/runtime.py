"""The engine inside a process: an executor thread, workers and a maintenance thread.

Hot path wake-ups are in-process (a condition variable, no polling). The maintenance
thread fires due timers, renews leases, recovers work of dead processes and notices
what other processes did (a new execution, a kill) through the database about once a
second. Commands that do not wait never start it.
"""
from __future__ import annotations

import heapq
import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone
from django.utils.module_loading import import_string

from flows.models import Execution, TaskRun
from orchestrator.engine import events
from orchestrator.engine.apply import Effects, advance, fail_execution
from orchestrator.engine.states import State

log = logging.getLogger(__name__)
_ACTIVE = [s.value for s in State if not s.is_terminal]
_MAINTENANCE_SECONDS = 0.5
_STALE_SECONDS = 3.0
_FLUSH_SECONDS = 0.1
_MAX_PASS_FAILURES = 5


class Engine:
    def __init__(self, threads: int | None = None) -> None:
        from orchestrator.engine.worker import Worker

        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.worker = Worker(self.owner, self.wake)
        queue_cls = import_string(settings.CHOREO_QUEUE_BACKEND)
        self.queue = queue_cls(self.worker.execute, threads or settings.CHOREO_WORKER_THREADS)
        self._pending: dict[str, bool] = {}
        self._cond = threading.Condition()
        self._timers: list[tuple[datetime, str]] = []
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_heartbeat = 0.0
        self._failures: dict[str, int] = {}
        self._last_stale_scan = 0.0

    # --- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        self.queue.start()
        loops = (("executor", self._executor_loop), ("maintenance", self._maintenance_loop),
                 ("log-flusher", self._flush_loop))
        for name, target in loops:
            thread = threading.Thread(target=target, name=f"choreo-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0, graceful: bool = True) -> None:
        """Stop taking work. Graceful: running attempts may finish within ``timeout``;
        what is still running after that is recovered by another engine through its lease."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if not graceful:
            for running in self.worker.running.snapshot():
                running.stop("killed")
        self.queue.stop(timeout)
        for thread in self._threads:
            thread.join(timeout)

    # --- wake-ups -------------------------------------------------------------------
    def wake(self, execution_id: str, requeue: bool = False) -> None:
        with self._cond:
            self._pending[execution_id] = self._pending.get(execution_id, False) or requeue
            self._cond.notify()

    def kill_signal(self, execution_id: str) -> None:
        self.worker.running.kill_execution(execution_id)
        self.wake(execution_id)

    def _next(self) -> tuple[str, bool] | None:
        with self._cond:
            while not self._pending and not self._stopping.is_set():
                self._cond.wait()
            if self._stopping.is_set():
                return None
            execution_id = next(iter(self._pending))
            return execution_id, self._pending.pop(execution_id)

    def _executor_loop(self) -> None:
        try:
            while (item := self._next()) is not None:
                execution_id, requeue = item
                try:
                    self.dispatch(advance(execution_id, requeue=requeue))
                    self._failures.pop(execution_id, None)
                except Exception as exc:
                    log.exception("executor: pass over execution %s failed", execution_id)
                    close_old_connections()
                    self._pass_failed(execution_id, exc)
        finally:
            connection.close()

    def _pass_failed(self, execution_id: str, exc: Exception) -> None:
        """Retry a failing pass a few times (a lock, a lost connection), then fail the
        execution with the error rather than retrying a poison execution forever."""
        count = self._failures.get(execution_id, 0) + 1
        self._failures[execution_id] = count
        if count < _MAX_PASS_FAILURES:
            self._schedule(timezone.now() + timedelta(seconds=0.2 * count), execution_id)
            return
        self._failures.pop(execution_id, None)
        try:
            fail_execution(execution_id, f"Internal error while advancing the execution: {type(exc).__name__}: {exc}")
        except Exception:
            log.exception("executor: could not fail execution %s", execution_id)
            close_old_connections()

    def dispatch(self, effects: Effects) -> None:
        for job in effects.jobs:
            self.queue.submit(job)
        for execution_id in effects.wake:
            self.wake(execution_id)
        for execution_id, event in effects.events:
            events.publish(execution_id, event)
        if effects.wake_at is not None and effects.execution_id:
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

    def _flush_loop(self) -> None:
        """Lines of running tasks reach the database within ~0.1 s, even if none follow."""
        try:
            while not self._stopping.wait(_FLUSH_SECONDS):
                for ctx in self.worker.running.snapshot():
                    try:
                        ctx.flush_if_stale(_FLUSH_SECONDS)
                    except Exception:
                        log.exception("flushing the logs of task run %s failed", ctx.taskrun_id)
                        close_old_connections()
        finally:
            connection.close()

    def _sleep_time(self) -> float:
        with self._cond:
            if not self._timers:
                return _MAINTENANCE_SECONDS
            delta = (self._timers[0][0] - timezone.now()).total_seconds()
        return max(0.005, min(_MAINTENANCE_SECONDS, delta))

    def maintain(self) -> None:
        """One round of maintenance; tests call it directly."""
        now = timezone.now()
        self._fire_local_timers(now)
        for execution_id in Execution.objects.filter(
            wake_at__lte=now, state__in=_ACTIVE
        ).values_list("id", flat=True)[:500]:
            self.wake(str(execution_id))
        # Executions created or restarted by another process, and kills typed elsewhere. A
        # CREATED execution with a future timer (a retry's new execution waiting for its
        # delay) is left to the timer scan above.
        for execution_id, state in Execution.objects.filter(
            state__in=[State.CREATED.value, State.RESTARTED.value, State.KILLING.value]
        ).exclude(state=State.CREATED.value, wake_at__gt=now).values_list("id", "state")[:500]:
            if state == State.KILLING.value:
                self.worker.running.kill_execution(str(execution_id))
            self.wake(str(execution_id), requeue=state == State.RESTARTED.value)
        monotonic = time.monotonic()
        if monotonic - self._last_heartbeat >= settings.CHOREO_HEARTBEAT_SECONDS:
            self._last_heartbeat = monotonic
            self._heartbeat(now)
        self._check_deadlines(now)
        self._recover_lost_leases(now)
        if monotonic - self._last_stale_scan >= _STALE_SECONDS:
            self._last_stale_scan = monotonic
            self._requeue_stale(now)

    def _fire_local_timers(self, now: datetime) -> None:
        due: list[str] = []
        with self._cond:
            while self._timers and self._timers[0][0] <= now:
                due.append(heapq.heappop(self._timers)[1])
        for execution_id in due:
            self.wake(execution_id)

    def _heartbeat(self, now: datetime) -> None:
        running = self.worker.running.snapshot()
        if not running:
            return
        ids = [ctx.taskrun_id for ctx in running]
        TaskRun.objects.filter(id__in=ids, lease_owner=self.owner, state=State.RUNNING.value).update(
            lease_expires=now + timedelta(seconds=settings.CHOREO_LEASE_SECONDS)
        )

    def _check_deadlines(self, now: datetime) -> None:
        for ctx in self.worker.running.snapshot():
            if ctx.deadline is not None and now >= ctx.deadline:
                ctx.stop("timeout")

    def _recover_lost_leases(self, now: datetime) -> None:
        from orchestrator.engine.recovery import recover_lost_attempt

        lost = TaskRun.objects.filter(state=State.RUNNING.value, lease_expires__lt=now).exclude(lease_owner="")
        for row in lost[:100]:
            if recover_lost_attempt(row, now):
                self.wake(str(row.execution_id))

    def _requeue_stale(self, now: datetime) -> None:
        """Runnable task runs waiting too long were queued in a process that died."""
        cutoff = now - timedelta(seconds=_STALE_SECONDS)
        stale = (
            TaskRun.objects.filter(state__in=[State.CREATED.value, State.QUEUED.value, State.RESTARTED.value],
                                   start_date__lt=cutoff, execution__state__in=_ACTIVE)
            .values_list("execution_id", flat=True).distinct()[:200]
        )
        if self.queue.pending() > 0:
            return  # this process is still working through its own queue
        for execution_id in stale:
            self.wake(str(execution_id), requeue=True)


_engine: Engine | None = None
_engine_lock = threading.Lock()


def ensure_started(threads: int | None = None) -> Engine:
    """Start this process's engine once, and recover what was left unfinished."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = Engine(threads)
            _engine.start()
            for execution_id in Execution.objects.filter(state__in=_ACTIVE).values_list("id", flat=True):
                _engine.wake(str(execution_id), requeue=True)
        return _engine


def current() -> Engine | None:
    return _engine


def shutdown(timeout: float = 5.0, graceful: bool = True) -> None:
    global _engine
    with _engine_lock:
        if _engine is not None:
            _engine.stop(timeout, graceful)
            _engine = None


def wake(execution_id: str, requeue: bool = False) -> None:
    """Advance an execution soon. Without an engine here, another process's maintenance will."""
    engine = _engine
    if engine is not None:
        engine.wake(execution_id, requeue)


def kill_signal(execution_id: str) -> None:
    engine = _engine
    if engine is not None:
        engine.kill_signal(execution_id)
