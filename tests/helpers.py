"""Test helpers: deploy YAML, run it through the real engine, wait for the outcome."""
from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from typing import Any

from flows.models import Execution, ExecutionEvent, LogEntry, TaskRun
from orchestrator.engine import services
from orchestrator.engine.infra import infra
from orchestrator.engine.serialize import execution_json
from orchestrator.engine.states import State


def settled(exe: Execution) -> bool:
    return State(exe.state).is_terminal or exe.state == State.PAUSED.value


def terminal(exe: Execution) -> bool:
    return State(exe.state).is_terminal


def document(exe: Any, logs: bool = True) -> dict[str, Any]:
    """The CLI's JSON document of an execution."""
    row = infra().store.get_execution(str(exe.id))
    assert row is not None
    return execution_json(infra().store, row, logs=logs)


def history(exe: Any) -> list[str]:
    """The states the execution went through, in order."""
    return list(ExecutionEvent.objects.filter(execution_id=exe.id, taskrun_id=None).exclude(state=None)
                .order_by("seq").values_list("state", flat=True))


class Runner:
    def deploy(self, yaml_text: str) -> services.Deployed:
        return services.deploy(textwrap.dedent(yaml_text))

    def run(self, yaml_text: str, inputs: dict[str, Any] | None = None, *, wait: bool = True,
            timeout: float = 30, with_flows: tuple[str, ...] = ()) -> Execution:
        for extra in with_flows:
            self.deploy(extra)
        deployed = self.deploy(yaml_text)
        exe = services.create_execution(deployed.flow.namespace, deployed.flow.flow_id, inputs or {})
        return self.wait(exe, settled, timeout) if wait else Execution.objects.get(id=exe.id)

    def wait(self, exe: Any, done: Callable[[Execution], bool] = settled, timeout: float = 30) -> Execution:
        deadline = time.monotonic() + timeout
        while True:
            row = Execution.objects.get(id=exe.id)
            if done(row):
                return row
            if time.monotonic() > deadline:
                raise AssertionError(f"execution {row.id} still {row.state} after {timeout}s: {self.describe(row)}")
            time.sleep(0.01)

    def describe(self, exe: Any) -> str:
        return ", ".join(f"{r.task_id}={r.state}" for r in self.taskruns(exe))

    def taskruns(self, exe: Any) -> list[TaskRun]:
        return list(TaskRun.objects.filter(execution_id=exe.id).order_by("seq"))

    def taskrun(self, exe: Any, task_id: str) -> TaskRun:
        return next(r for r in self.taskruns(exe) if r.task_id == task_id)

    def states(self, exe: Any) -> dict[str, str]:
        result: dict[str, str] = {}
        for r in self.taskruns(exe):
            result.setdefault(r.task_id, r.state)
        return result

    def logs(self, exe: Any) -> list[LogEntry]:
        return list(LogEntry.objects.filter(execution_id=exe.id).order_by("seq"))

    def messages(self, exe: Any) -> list[str]:
        return [e.message for e in self.logs(exe)]
