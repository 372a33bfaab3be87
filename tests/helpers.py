"""Test helpers: deploy YAML, run it through the real engine, wait for the outcome."""
from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.utils import timezone

from flows.models import EngineInstance, Execution, ExecutionEvent, LogEntry, TaskRun
from orchestrator.engine import services
from orchestrator.engine.infra import infra
from orchestrator.engine.serialize import execution_json
from orchestrator.engine.states import TERMINAL, State

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "flows"


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

    def run_fixture(self, name: str, inputs: dict[str, Any] | None = None, *, wait: bool = True,
                    timeout: float = 30, with_fixtures: tuple[str, ...] = ()) -> Execution:
        """Run tests/fixtures/flows/valid/<name>.yaml (deploying the ``with_fixtures`` first)."""
        return self.run(fixture(name), inputs, wait=wait, timeout=timeout,
                        with_flows=tuple(fixture(extra) for extra in with_fixtures))

    def wait_chain(self, exe: Any, timeout: float = 30) -> list[Execution]:
        """Wait through CREATE_NEW_EXECUTION retries: every execution of the chain, in order,
        once the last one is settled."""
        deadline = time.monotonic() + timeout
        chain = [self.wait(exe, settled, timeout)]
        while chain[-1].state == State.RETRIED.value:
            while (following := services.retried_by(chain[-1].id)) is None:
                if time.monotonic() > deadline:
                    raise AssertionError(f"execution {chain[-1].id} ended RETRIED but no execution retries it")
                time.sleep(0.01)
            chain.append(self.wait(following, settled, max(0.1, deadline - time.monotonic())))
        return chain

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


def fixture(name: str) -> str:
    return (FIXTURES / "valid" / f"{name}.yaml").read_text()


# --- nothing stays non-terminal with nobody working on it ------------------------------------
_QUEUED = (State.CREATED.value, State.QUEUED.value, State.RESTARTED.value)
# Executions holding a concurrency slot (a QUEUED one waits for one of them).
_HOLDING = (State.RUNNING.value, State.PAUSED.value, State.KILLING.value, State.RESTARTED.value)


def stuck_executions() -> list[str]:
    """Every non-terminal execution that nobody works on, described with its task runs.

    An execution is fine when it is terminal; PAUSED with a paused task run (waiting for a
    resume or its timer); or has a live owner (or a timer) and live work: a RUNNING task
    run whose worker instance is alive,
    a task run or execution timer (``wake_at``), a runnable task run queued, a QUEUED
    execution behind one of the same flow that is live, or a Subflow child execution that
    is itself live.
    """
    now = timezone.now()
    alive = set(EngineInstance.objects.filter(expires_at__gte=now).values_list("id", flat=True))
    executions = {str(e.id): e for e in Execution.objects.exclude(state__in=[s.value for s in TERMINAL])}
    runs: dict[str, list[TaskRun]] = {}
    for run in TaskRun.objects.filter(execution_id__in=list(executions)).order_by("seq"):
        runs.setdefault(str(run.execution_id), []).append(run)
    memo: dict[str, bool] = {}

    def live(execution_id: str, seen: frozenset[str] = frozenset()) -> bool:
        exe = executions.get(execution_id)
        if exe is None:
            return _retried_into_live(execution_id, lambda following: live(following, seen))
        if execution_id in memo or execution_id in seen:
            return memo.get(execution_id, False)
        seen = seen | {execution_id}
        mine = runs.get(execution_id, [])
        waiting = exe.state == State.PAUSED.value and any(r.state == State.PAUSED.value for r in mine)
        # Someone must be responsible: a live owner, or a wait any engine will notice (a
        # timer, a user's resume).
        if not (exe.owner in alive or waiting or exe.wake_at is not None):
            memo[execution_id] = False
            return False
        result = (
            waiting
            or exe.wake_at is not None
            or any(_live_run(r, alive, lambda child: live(child, seen)) for r in mine)
            or (exe.state == State.QUEUED.value and any(
                live(str(o.id), seen) for o in executions.values()
                if o.id != exe.id and (o.namespace, o.flow_id) == (exe.namespace, exe.flow_id)
                and o.state in _HOLDING))
        )
        memo[execution_id] = result
        return result

    return [_describe(exe, runs.get(key, [])) for key, exe in executions.items() if not live(key)]


def _retried_into_live(execution_id: str, following_live: Callable[[str], bool]) -> bool:
    """A terminal child execution no longer works for its parent, unless it ended RETRIED
    and the execution retrying it does (it reports to the same parent task run)."""
    exe = Execution.objects.filter(id=execution_id).first()
    following = services.retried_by(str(exe.id)) if exe is not None else None
    return following is not None and following_live(str(following.id))


def _live_run(run: TaskRun, alive: set[str], child_live: Callable[[str], bool]) -> bool:
    if State(run.state).is_terminal:
        return False
    if run.state == State.RUNNING.value and run.lease_owner in alive:
        return True
    if run.wake_at is not None or run.state in _QUEUED:
        return True
    child = run.meta.get("child_id")
    return bool(child) and run.meta.get("child") is None and child_live(str(child))


def _describe(exe: Execution, runs: list[TaskRun]) -> str:
    lines = [f"execution {exe.id} ({exe.namespace}.{exe.flow_id}) is {exe.state}, owner {exe.owner or '-'}"
             + (f", wake_at {exe.wake_at.isoformat()}" if exe.wake_at else "")]
    for run in runs:
        extra = []
        if run.lease_owner:
            extra.append(f"lease {run.lease_owner}")
        if run.wake_at:
            extra.append(f"wake_at {run.wake_at.isoformat()}")
        if run.meta.get("child_id"):
            extra.append(f"child execution {run.meta['child_id']}")
        value = f"[{run.value}]" if run.value is not None else ""
        lines.append(f"    {run.task_id}{value} {run.state}" + (f" ({'; '.join(extra)})" if extra else ""))
    return "\n".join(lines)


def assert_nothing_stuck(grace: float = 5.0) -> None:
    """Fail, listing them, if executions stay non-terminal with nobody working on them for
    ``grace`` seconds (an engine may be a few passes behind the last thing a test did)."""
    deadline = time.monotonic() + grace
    while True:
        stuck = stuck_executions()
        if not stuck:
            return
        if time.monotonic() > deadline:
            raise AssertionError("executions nobody works on:\n" + "\n".join(stuck))
        time.sleep(0.05)
