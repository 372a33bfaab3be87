"""What a running task sees (tasks.base.RunContext), built by the worker from the store."""
from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from orchestrator.engine.executor.context import each_output_function
from orchestrator.engine.executor.retries import Chain
from orchestrator.engine.executor.snapshot import TaskRunView
from orchestrator.engine.expressions import ExpressionError, render, render_typed, render_value
from orchestrator.engine.journal import LogLine
from orchestrator.engine.secrets import SecretNotFound, lookup_secret, mask_forms, mask_text
from orchestrator.engine.storage import StorageError, storage, task_uri
from orchestrator.engine.tasks.base import Level, RetryPolicy, Task
from orchestrator.engine.tasks.isolation import shared_folder
from orchestrator.engine.worker.logbudget import LogBudget

log = logging.getLogger(__name__)
_FLUSH_SECONDS = 0.2
# How long a kill is remembered for attempts claimed before it that have not started yet.
_KILL_MEMORY_SECONDS = 600.0


@dataclass
class Assignment:
    """One attempt to run, with what the worker rebuilt for it from the store."""

    execution_id: str
    run: TaskRunView
    attempt: int
    task: Task
    context: dict[str, Any]
    # The policy that applies to this task (its own, an ancestor's or the flow's: see
    # executor.retries) and where the execution stands in a CREATE_NEW_EXECUTION chain.
    retry: RetryPolicy | None
    chain: Chain
    secrets: list[str]
    namespace: str
    flow_id: str
    # Set for children of a WorkingDirectory task: the folder they share.
    shared_dir: str | None = None
    # When it was claimed (time.monotonic): a kill heard after that stops it, even if it
    # had not started yet when the kill came.
    claimed_at: float = field(default_factory=time.monotonic)

    @property
    def taskrun_id(self) -> str:
        return self.run.id


class WorkerContext:
    """The RunContext of one attempt (see tasks.base.RunContext)."""

    def __init__(self, job: Assignment, deadline: datetime | None,
                 write_logs: Callable[[list[LogLine], list[str]], None],
                 error_logs: Callable[[], list[dict[str, Any]]]) -> None:
        self.job = job
        self.execution_id = job.execution_id
        self.taskrun_id = job.taskrun_id
        self.task_id = job.task.id
        self.namespace = job.namespace
        self.flow_id = job.flow_id
        self.value: str | None = job.run.value
        self.attempt = job.attempt
        self.deadline = deadline
        # The task's timeout once rendered (it may be an expression).
        self.timeout: timedelta | None = None
        self.stop_reason: str | None = None
        self.metrics: dict[str, Any] = {}
        self.warning = False
        self._write_logs = write_logs
        self._stop = threading.Event()
        self._on_stop: list[Callable[[str], None]] = []
        self._logs: list[LogLine] = []
        self._log_lock = threading.Lock()
        self._log_budget = LogBudget()
        self._last_flush = time.monotonic()
        self._labels: dict[str, str] = {}
        self._secrets: list[str] = list(job.secrets)
        self._working_dir: Path | None = None
        self._owns_working_dir = False
        threshold = job.task.logLevel
        self._min_rank = threshold.rank if threshold is not None else Level.TRACE.rank
        self._functions: dict[str, Callable[..., Any]] = {
            "currentEachOutput": each_output_function(job.context),
            "errorLogs": error_logs,
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
        line = self._line(level.value, self.mask(str(message)))
        with self._log_lock:
            if self._log_budget.admit(line):
                self._logs.append(line)
            elif (announcement := self._log_budget.announcement()) is not None:
                self._logs.append(self._line("WARN", announcement))
        if time.monotonic() - self._last_flush > _FLUSH_SECONDS:
            self.flush_logs()

    def _line(self, level: str, message: str) -> LogLine:
        return LogLine(self.taskrun_id, self.job.task.id, self.attempt, level, timezone.now(), message)

    def sleep(self, seconds: float) -> None:
        from orchestrator.engine.tasks.base import TaskKilled

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
                for folder in reversed(self._working_dir.parents[:3]):  # work/shared/<execution>
                    shared_folder(folder)
                self._working_dir.mkdir(exist_ok=True)
            else:
                base = Path(settings.CHOREO_DATA_DIR) / "work"
                shared_folder(base)
                self._working_dir = Path(tempfile.mkdtemp(prefix=f"{self.task_id}-", dir=base))
                self._owns_working_dir = True
        return self._working_dir

    def cleanup(self) -> None:
        with self._log_lock:
            self._logs.extend(self._log_budget.close(self._line))
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

    def take_logs(self) -> list[LogLine]:
        with self._log_lock:
            logs, self._logs = self._logs, []
        return logs

    def flush_if_stale(self, seconds: float) -> None:
        """Called by the worker's flusher: a line never waits long for the next one."""
        if self._logs and time.monotonic() - self._last_flush >= seconds:
            self.flush_logs()

    def flush_logs(self) -> None:
        logs = self.take_logs()
        self._last_flush = time.monotonic()
        if logs:
            self._write_logs(logs, self._secrets)

    @property
    def secrets(self) -> list[str]:
        return self._secrets

    @property
    def labels(self) -> dict[str, str]:
        return self._labels


class Running:
    """Attempts running in this process, for heartbeats, kills, timeouts and log flushes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._contexts: dict[str, WorkerContext] = {}
        # Executions killed lately, and when: an attempt claimed before its execution was
        # killed but started after (it waited for a thread) must stop at once.
        self._kills: dict[str, float] = {}

    def add(self, ctx: WorkerContext) -> None:
        with self._lock:
            self._contexts[ctx.taskrun_id] = ctx
            killed_at = self._kills.get(ctx.execution_id)
        if killed_at is not None and killed_at >= ctx.job.claimed_at:
            ctx.stop("killed")

    def remove(self, ctx: WorkerContext) -> None:
        with self._lock:
            self._contexts.pop(ctx.taskrun_id, None)

    def snapshot(self) -> list[WorkerContext]:
        with self._lock:
            return list(self._contexts.values())

    def kill_execution(self, execution_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._kills = {k: t for k, t in self._kills.items() if now - t < _KILL_MEMORY_SECONDS}
            self._kills[execution_id] = now
        for ctx in self.snapshot():
            if ctx.execution_id == execution_id:
                ctx.stop("killed")

    def check_deadlines(self, now: datetime) -> None:
        for ctx in self.snapshot():
            if ctx.deadline is not None and now >= ctx.deadline:
                ctx.stop("timeout")
