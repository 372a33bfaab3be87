"""Workers run runnable task runs: claim an attempt, run it, report the result.

The claim is a conditional update, so a job offered twice runs once. While the attempt
runs, the process heartbeats its lease; a kill or a timeout sets the context's stop flag
(process-based tasks also terminate their process group).
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from flows.models import Execution, LogEntry, TaskRun
from orchestrator.engine.apply import Job
from orchestrator.engine.executor.context import each_output_function
from orchestrator.engine.expressions import ExpressionError, render, render_typed, render_value
from orchestrator.engine.logs import PendingLog, cap, write_logs
from orchestrator.engine.executor.retries import NEW_EXECUTION_AT, Next, after_failure, warns_after_success
from orchestrator.engine.secrets import SecretNotFound, lookup_secret, mask_forms, mask_text
from orchestrator.engine.storage import StorageError, storage, task_uri
from orchestrator.engine.states import State
from orchestrator.engine.tasks.base import Level, RunnableTask, TaskFailed, TaskKilled
from orchestrator.engine.transitions import change_taskrun

log = logging.getLogger(__name__)
_CLAIMABLE = (State.CREATED.value, State.QUEUED.value, State.RESTARTED.value)
_FLUSH_SECONDS = 0.2


class WorkerContext:
    """The RunContext a task sees while it runs (see tasks.base.RunContext)."""

    def __init__(self, job: Job, attempt: int, deadline: datetime | None) -> None:
        self.job = job
        self.execution_id = job.execution_id
        self.taskrun_id = job.taskrun_id
        self.task_id = job.task.id
        self.namespace: str = job.context["flow"]["namespace"]
        self.flow_id: str = job.context["flow"]["id"]
        self.value: str | None = job.context.get("taskrun", {}).get("value")
        self.attempt = attempt
        self.deadline = deadline
        self.stop_reason: str | None = None
        self.metrics: dict[str, Any] = {}
        self.warning = False
        self._stop = threading.Event()
        self._on_stop: list[Callable[[str], None]] = []
        self._logs: list[PendingLog] = []
        self._log_lock = threading.Lock()
        self._last_flush = time.monotonic()
        self._labels: dict[str, str] = {}
        self._secrets: list[str] = list(job.secrets)
        self._working_dir: Path | None = None
        self._owns_working_dir = False
        threshold = job.task.logLevel
        self._min_rank = threshold.rank if threshold is not None else Level.TRACE.rank
        self._functions: dict[str, Callable[..., Any]] = {
            "currentEachOutput": each_output_function(job.context),
            "errorLogs": self._error_logs,
            "secret": self.secret,
            "read": self.read,
        }
        if getattr(job.task, "uses_working_dir", False):
            job.context["workingDir"] = str(self.working_dir)

    # --- RunContext -----------------------------------------------------------------
    def render(self, value: Any) -> Any:
        return render_value(value, self.job.context, self._functions)

    def render_str(self, template: str) -> str:
        return render(template, self.job.context, self._functions)

    def render_typed(self, template: Any) -> Any:
        if not isinstance(template, str):
            return self.render(template)
        return render_typed(template, self.job.context, self._functions)

    def log(self, level: Level | str, message: str) -> None:
        level = Level(level.upper()) if isinstance(level, str) else level
        if level.rank < self._min_rank:
            return
        line = PendingLog(self.taskrun_id, self.job.task.id, self.attempt, level.value, timezone.now(),
                          self.mask(str(message)))
        with self._log_lock:
            self._logs.append(line)
        if time.monotonic() - self._last_flush > _FLUSH_SECONDS:
            self.flush_logs()

    def sleep(self, seconds: float) -> None:
        if self._stop.wait(max(0.0, seconds)):
            raise TaskKilled(self.stop_reason or "stopped")

    def end_in_warning(self) -> None:
        self.warning = True

    def on_stop(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(reason)`` (from another thread) when the attempt must stop;
        at once if it already must. Process-based tasks kill their process group here."""
        self._on_stop.append(callback)
        if self._stop.is_set():
            callback(self.stop_reason or "killed")

    def secret(self, name: str) -> str:
        """A secret's value; every form of it is masked in this attempt's logs from now on."""
        try:
            value = lookup_secret(str(name))
        except SecretNotFound as exc:
            raise ExpressionError(str(exc)) from None
        for form in mask_forms(value):
            if form not in self._secrets:
                self._secrets.append(form)
        self._secrets.sort(key=len, reverse=True)
        return value

    def mask(self, text: str) -> str:
        return mask_text(text, self._secrets) if self._secrets else text

    def read(self, uri: str) -> str:
        """``read(uri)`` in expressions: a stored file's text."""
        try:
            return storage().get(str(uri)).decode("utf-8", errors="replace")
        except StorageError as exc:
            raise ExpressionError(str(exc)) from None

    def store(self, path: Path, name: str | None = None) -> str:
        """Keep ``path`` in internal storage under this task run; returns its URI."""
        uri = task_uri(self.namespace, self.flow_id, self.execution_id, self.task_id, self.taskrun_id,
                       name or path.name)
        return storage().put(uri, path)

    @property
    def working_dir(self) -> Path:
        """This attempt's working directory (shared by the children of a WorkingDirectory)."""
        if self._working_dir is None:
            shared = self.job.shared_dir
            if shared:
                self._working_dir = Path(shared)
                self._working_dir.mkdir(parents=True, exist_ok=True)
            else:
                base = Path(settings.CHOREO_DATA_DIR) / "work"
                base.mkdir(parents=True, exist_ok=True)
                self._working_dir = Path(tempfile.mkdtemp(prefix=f"{self.task_id}-", dir=base))
                self._owns_working_dir = True
        return self._working_dir

    def cleanup(self) -> None:
        if self._owns_working_dir and self._working_dir is not None:
            if not getattr(self.job.task, "keep_working_dir", False):
                shutil.rmtree(self._working_dir, ignore_errors=True)

    def set_labels(self, labels: Mapping[str, str]) -> None:
        self._labels.update({str(k): str(v) for k, v in labels.items()})

    @property
    def killed(self) -> bool:
        return self._stop.is_set()

    # --- worker side ----------------------------------------------------------------
    def stop(self, reason: str) -> None:
        if self._stop.is_set():
            return
        self.stop_reason = reason
        self._stop.set()
        for callback in list(self._on_stop):
            try:
                callback(reason)
            except Exception:
                log.exception("stopping task %s failed", self.task_id)

    def take_logs(self) -> list[PendingLog]:
        with self._log_lock:
            logs, self._logs = self._logs, []
        return logs

    def flush_if_stale(self, seconds: float) -> None:
        """Called by the engine's flusher: a line never waits long for the next one."""
        if self._logs and time.monotonic() - self._last_flush >= seconds:
            self.flush_logs()

    def flush_logs(self) -> None:
        logs = self.take_logs()
        self._last_flush = time.monotonic()
        if logs:
            with transaction.atomic():
                write_logs(self.execution_id, logs, self._secrets)
            from orchestrator.engine import events

            events.publish(self.execution_id, {"type": "logs", "count": len(logs)})

    @property
    def labels(self) -> dict[str, str]:
        return self._labels

    def _error_logs(self) -> list[dict[str, Any]]:
        rows = LogEntry.objects.filter(execution_id=self.execution_id, level="ERROR").order_by("seq")[:100]
        return [{"taskId": r.task_id, "message": r.message, "timestamp": r.timestamp} for r in rows]


class Running:
    """Attempts running in this process, for heartbeats, kills and timeouts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._contexts: dict[str, WorkerContext] = {}

    def add(self, ctx: WorkerContext) -> None:
        with self._lock:
            self._contexts[ctx.taskrun_id] = ctx

    def remove(self, ctx: WorkerContext) -> None:
        with self._lock:
            self._contexts.pop(ctx.taskrun_id, None)

    def snapshot(self) -> list[WorkerContext]:
        with self._lock:
            return list(self._contexts.values())

    def kill_execution(self, execution_id: str) -> None:
        for ctx in self.snapshot():
            if ctx.execution_id == execution_id:
                ctx.stop("killed")


class Worker:
    def __init__(self, owner: str, wake: Callable[[str], None]) -> None:
        self.owner = owner
        self.wake = wake
        self.running = Running()

    def execute(self, job: Job) -> None:
        claimed = self._claim(job)
        if claimed is None:
            return
        row, attempt = claimed
        deadline = timezone.now() + job.task.timeout if job.task.timeout else None
        ctx = WorkerContext(job, attempt, deadline)
        self.running.add(ctx)
        outputs: dict[str, Any] = {}
        reason: str | None = None
        try:
            assert isinstance(job.task, RunnableTask)
            outputs = job.task.run(ctx) or {}
            state = State.SUCCESS
        except TaskKilled:
            state, reason = self._stopped(ctx, job)
        except (TaskFailed, ExpressionError) as exc:
            state, reason = State.FAILED, str(exc)
        except Exception as exc:  # a bug in a task must fail the task, not the worker
            log.exception("task %s failed unexpectedly", job.task.id)
            state, reason = State.FAILED, f"{type(exc).__name__}: {exc}"
        finally:
            self.running.remove(ctx)
            ctx.cleanup()
        if ctx.stop_reason and state == State.SUCCESS:
            state, reason = self._stopped(ctx, job)
        elif state == State.SUCCESS and ctx.warning:
            state = State.WARNING
        if reason:
            reason = ctx.mask(reason)
        self._report(job, row, ctx, state, outputs, reason)
        self.wake(job.execution_id)

    def _stopped(self, ctx: WorkerContext, job: Job) -> tuple[State, str]:
        if ctx.stop_reason == "timeout":
            return State.FAILED, f"Task [{job.task.id}] timed out after {job.task.timeout}"
        return State.KILLED, f"Task [{job.task.id}] was killed"

    def _claim(self, job: Job) -> tuple[TaskRun, int] | None:
        row = job.row
        for _ in range(2):
            if row is None or row.state not in _CLAIMABLE:
                row = TaskRun.objects.filter(id=job.taskrun_id, state__in=_CLAIMABLE).first()
                if row is None:
                    return None
            now = timezone.now()
            attempts = [*row.attempts, {"state": State.RUNNING.value, "startDate": now.isoformat(),
                                        "worker": self.owner}]
            if change_taskrun(
                row, State.RUNNING, now, expect=State(row.state), attempts=attempts, lease_owner=self.owner,
                lease_expires=now + timedelta(seconds=settings.CHOREO_LEASE_SECONDS),
                start_date=row.start_date or now,
            ):
                return row, len(attempts)
            row = None  # changed since the executor saw it: read it once more
        return None

    def _report(self, job: Job, row: TaskRun, ctx: WorkerContext, state: State, outputs: dict[str, Any],
                reason: str | None) -> None:
        now = timezone.now()
        attempts = [dict(a) for a in row.attempts]
        attempts[-1].update(state=state.value, endDate=now.isoformat())
        new_state, wake_at = state, None
        meta = dict(row.meta)
        suffix = ""
        if state == State.FAILED and ctx.stop_reason is None:
            # The executor's rules (executor.retries), applied here where the attempt ends.
            plan = after_failure(job.retry, attempts=len(attempts), first_start=row.start_date or now, now=now,
                                 seed=job.taskrun_id, chain=job.chain)
            if plan.next == Next.RETRY_TASK and plan.at is not None:
                new_state, wake_at = State.RETRYING, plan.at
                suffix = f" (attempt {len(attempts)}, retrying at {plan.at.isoformat()})"
            elif plan.next == Next.NEW_EXECUTION and plan.at is not None:
                # The executor ends the execution RETRIED and creates the next one.
                new_state = State.RETRIED
                meta[NEW_EXECUTION_AT] = plan.at.isoformat()
                suffix = f" (execution attempt {job.chain.attempt}, a new execution starts at {plan.at.isoformat()})"
        if state == State.SUCCESS and warns_after_success(job.retry, len(attempts)):
            new_state = State.WARNING
        logs = ctx.take_logs()
        if reason:
            level = "WARN" if new_state in (State.RETRYING, State.RETRIED) else "ERROR"
            logs.append(PendingLog(job.taskrun_id, job.task.id, len(attempts), level, now, reason + suffix))
        fields: dict[str, Any] = {
            "attempts": attempts, "lease_owner": "", "lease_expires": None, "wake_at": wake_at,
            "_lease_owner": self.owner,
        }
        if new_state != State.RETRYING:
            fields["outputs"] = _cap_outputs(_mask_value(outputs, ctx))
        if ctx.metrics:
            meta["metrics"] = ctx.metrics
        if meta != row.meta:
            fields["meta"] = meta
        if logs or ctx.labels:
            with transaction.atomic():
                write_logs(job.execution_id, logs, ctx._secrets)
                if ctx.labels:
                    _merge_labels(job.execution_id, ctx.labels)
                saved = change_taskrun(row, new_state, now, expect=State.RUNNING, **fields)
        else:
            saved = change_taskrun(row, new_state, now, expect=State.RUNNING, **fields)
        if not saved:
            log.info("task run %s: result dropped, the attempt was taken over", job.taskrun_id)
        from orchestrator.engine import events

        events.publish(job.execution_id, {"type": "taskrun", "id": job.taskrun_id, "state": new_state.value})


def _mask_value(value: Any, ctx: WorkerContext) -> Any:
    if isinstance(value, str):
        return ctx.mask(value)
    if isinstance(value, list):
        return [_mask_value(v, ctx) for v in value]
    if isinstance(value, dict):
        return {k: _mask_value(v, ctx) for k, v in value.items()}
    return value


def _merge_labels(execution_id: str, labels: dict[str, str]) -> None:
    exe = Execution.objects.select_for_update().only("labels").get(id=execution_id)
    Execution.objects.filter(id=execution_id).update(labels={**exe.labels, **labels})


def _cap_outputs(outputs: dict[str, Any]) -> dict[str, Any]:
    import json

    text = json.dumps(outputs, default=str)
    limit = settings.CHOREO_OUTPUT_MAX
    if len(text) <= limit:
        return json.loads(text)
    return {"truncated": True, "message": cap(text, limit, "outputs")}
