"""The benchmark's only contact with the engine.

The engine's insides change; the benchmark uses nothing but the service entry points
(``services.deploy``, ``services.create_execution``), an ``Engine`` started and stopped,
and the Execution and TaskRun rows to read results, all in this module.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, Max

from flows.models import Execution, TaskRun
from orchestrator.engine import services
from orchestrator.engine.runtime import Engine
from orchestrator.engine.states import State

NAMESPACE = "choreo.bench"
_TERMINAL = [s.value for s in State if s.is_terminal]


class OutOfTime(Exception):
    """The metric's deadline passed while waiting for executions."""


@dataclass(frozen=True)
class Deadline:
    """A point in wall-clock time (shared with the parent process) and the budget it ends."""

    at: float
    budget_s: float

    def left(self) -> float:
        return self.at - time.time()

    def passed(self) -> bool:
        return self.left() <= 0

    def share(self, fraction: float) -> Deadline:
        """An earlier deadline: ``fraction`` of the time left from now."""
        return Deadline(time.time() + max(0.0, self.left()) * fraction, self.budget_s)


@dataclass(frozen=True)
class Span:
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


class Driver:
    engine: Engine | None = None

    # --- the database this process measures ------------------------------------------
    def database(self) -> tuple[str, str]:
        """(vendor, name) of the database this process is connected to."""
        connection.ensure_connection()
        return connection.vendor, str(connection.settings_dict["NAME"])

    # --- engine ----------------------------------------------------------------------
    def deploy(self, *texts: str) -> None:
        for text in texts:
            services.deploy(text, "bench")

    def start(self) -> None:
        self.engine = Engine.from_settings().start()

    def stop(self) -> None:
        # A loop cut at its deadline is abandoned with its database: no long grace.
        if self.engine is not None:
            self.engine.stop(timeout=1)
            self.engine = None

    def create(self, flow_id: str) -> str:
        return str(services.create_execution(NAMESPACE, flow_id, {}).id)

    # --- waiting and reading -----------------------------------------------------------
    def run(self, flow_id: str, deadline: Deadline) -> Span:
        """Run one execution to its end; it must succeed."""
        execution_id = self.create(flow_id)
        self.wait([execution_id], deadline)
        return self.span(execution_id)

    def wait(self, ids: list[str], deadline: Deadline, poll: float | None = None) -> None:
        """Until every execution is terminal. Polls with one cheap query every few
        milliseconds: the waiter must not steal the engine's time (a check on every event
        would cost more than the work measured)."""
        poll = poll or (0.01 if len(ids) == 1 else 0.05)
        last = ids[-1]
        pending = Execution.objects.filter(id__in=ids).exclude(state__in=_TERMINAL)
        while True:
            if Execution.objects.filter(id=last, state__in=_TERMINAL).exists() and not pending.exists():
                return
            if deadline.passed():
                raise OutOfTime()
            time.sleep(poll)

    def span(self, execution_id: str) -> Span:
        exe = Execution.objects.get(id=execution_id)
        assert exe.state == State.SUCCESS.value, f"bench execution {execution_id} ended {exe.state}"
        assert exe.end_date is not None
        return Span(exe.start_date.timestamp(), exe.end_date.timestamp())

    def started(self, execution_id: str) -> float:
        return Execution.objects.get(id=execution_id).start_date.timestamp()

    def first_attempt_start(self, execution_id: str) -> float:
        """When a worker claimed the execution's only task run."""
        run = TaskRun.objects.get(execution_id=execution_id)
        return datetime.fromisoformat(run.attempts[0]["startDate"]).timestamp()

    def last_end(self, ids: list[str]) -> float:
        """The end of the last of these executions; every one must have succeeded."""
        rows = Execution.objects.filter(id__in=ids)
        failed = rows.exclude(state=State.SUCCESS.value).count()
        assert failed == 0, f"{failed} bench executions did not succeed"
        return max(e.timestamp() for e in rows.values_list("end_date", flat=True) if e is not None)

    def done_children(self, execution_id: str, task_id: str) -> tuple[int, float | None]:
        """How many runs of ``task_id`` succeeded so far, and when the last one ended."""
        row: dict[str, Any] = TaskRun.objects.filter(
            execution_id=execution_id, task_id=task_id, state=State.SUCCESS.value
        ).aggregate(n=Count("id"), last=Max("end_date"))
        return row["n"], row["last"].timestamp() if row["last"] is not None else None
