"""Test helpers: deploy YAML, run it through the real engine, wait for the outcome."""
from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flows.models import Execution, LogEntry, TaskRun
from orchestrator.engine import services
from orchestrator.engine.states import State

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "flows"


def settled(exe: Execution) -> bool:
    return State(exe.state).is_terminal or exe.state == State.PAUSED.value


def terminal(exe: Execution) -> bool:
    return State(exe.state).is_terminal


class Runner:
    def deploy(self, yaml_text: str) -> services.Deployed:
        return services.deploy(textwrap.dedent(yaml_text))

    def run(self, yaml_text: str, inputs: dict[str, Any] | None = None, *, wait: bool = True,
            timeout: float = 30, with_flows: tuple[str, ...] = ()) -> Execution:
        for extra in with_flows:
            self.deploy(extra)
        deployed = self.deploy(yaml_text)
        exe = services.create_execution(deployed.flow.namespace, deployed.flow.flow_id, inputs or {})
        return self.wait(exe, settled, timeout) if wait else exe

    def run_fixture(self, name: str, inputs: dict[str, Any] | None = None, *, wait: bool = True,
                    timeout: float = 30, with_fixtures: tuple[str, ...] = ()) -> Execution:
        """Run tests/fixtures/flows/valid/<name>.yaml (deploying the ``with_fixtures`` first)."""
        return self.run(fixture(name), inputs, wait=wait, timeout=timeout,
                        with_flows=tuple(fixture(extra) for extra in with_fixtures))

    def wait_chain(self, exe: Execution, timeout: float = 30) -> list[Execution]:
        """Wait through CREATE_NEW_EXECUTION retries: every execution of the chain, in order,
        once the last one is settled."""
        deadline = time.monotonic() + timeout
        chain = [self.wait(exe, settled, timeout)]
        while chain[-1].state == State.RETRIED.value:
            while (following := services.retried_by(chain[-1])) is None:
                if time.monotonic() > deadline:
                    raise AssertionError(f"execution {chain[-1].id} ended RETRIED but no execution retries it")
                time.sleep(0.01)
            chain.append(self.wait(following, settled, max(0.1, deadline - time.monotonic())))
        return chain

    def wait(self, exe: Execution, done: Callable[[Execution], bool] = settled, timeout: float = 30) -> Execution:
        deadline = time.monotonic() + timeout
        while True:
            exe.refresh_from_db()
            if done(exe):
                return exe
            if time.monotonic() > deadline:
                raise AssertionError(f"execution {exe.id} still {exe.state} after {timeout}s: {self.describe(exe)}")
            time.sleep(0.01)

    def describe(self, exe: Execution) -> str:
        return ", ".join(f"{r.task_id}={r.state}" for r in self.taskruns(exe))

    def taskruns(self, exe: Execution) -> list[TaskRun]:
        return list(TaskRun.objects.filter(execution_id=exe.id).order_by("seq"))

    def taskrun(self, exe: Execution, task_id: str) -> TaskRun:
        return next(r for r in self.taskruns(exe) if r.task_id == task_id)

    def states(self, exe: Execution) -> dict[str, str]:
        result: dict[str, str] = {}
        for r in self.taskruns(exe):
            result.setdefault(r.task_id, r.state)
        return result

    def logs(self, exe: Execution) -> list[LogEntry]:
        return list(LogEntry.objects.filter(execution_id=exe.id).order_by("seq"))

    def messages(self, exe: Execution) -> list[str]:
        return [e.message for e in self.logs(exe)]


def fixture(name: str) -> str:
    return (FIXTURES / "valid" / f"{name}.yaml").read_text()
