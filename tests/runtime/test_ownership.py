"""Every running execution has one owner; a live engine takes over work whose owner is
gone, and never touches the work of an owner that is alive."""
from __future__ import annotations

import os
import signal
import statistics
from pathlib import Path

import pytest
from django.db import connection

from flows.models import Execution, ExecutionEvent, LogEntry, TaskRun
from orchestrator.engine import infra, services
from orchestrator.engine.runtime import Engine
from tests.runtime.support import child_env, manage, stopped, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = """
id: slow
namespace: t
tasks:
  - {id: first, type: sleep, duration: PT2S}
  - {id: second, type: log, message: done}
"""


def _terminal(execution_id: str) -> Execution | None:
    return Execution.objects.filter(id=execution_id, state__in=["SUCCESS", "WARNING", "FAILED", "KILLED"]).first()


def test_an_execution_left_by_a_command_that_stopped_waiting_is_finished_by_the_server(tmp_path: Path) -> None:
    flow = tmp_path / "slow.yaml"
    flow.write_text(SLOW)
    with stopped(manage("serve", "--role", "engine")) as server:
        wait_until(lambda: server.stdout.readline(), what="the server to start")  # type: ignore[union-attr]
        cli = manage("flows", "run", str(flow), "--timeout", "1", "--json")
        _, stderr = cli.communicate(timeout=60)
        assert cli.returncode == 3, stderr
        execution_id = stderr.split("Execution ")[1].split()[0]
        exe = wait_until(lambda: _terminal(execution_id), timeout=15, what="the server to finish the execution")
    assert exe.state == "SUCCESS"
    assert {r.task_id: r.state for r in TaskRun.objects.filter(execution_id=exe.id)} == {
        "first": "SUCCESS", "second": "SUCCESS"}


def test_twenty_commands_on_one_database_all_finish_their_executions(tmp_path: Path) -> None:
    flow = tmp_path / "many.yaml"
    flow.write_text("id: many\nnamespace: t\ntasks:\n" + "".join(
        f"  - {{id: s{i}, type: return, format: '{{{{ execution.id }}}}'}}\n" for i in range(5)))
    # Each command holds a few connections (executor, maintenance, bus listener, a worker):
    # twenty of them would take most of a default PostgreSQL's 100.
    count = 20 if connection.vendor == "sqlite" else 10
    procs = [manage("flows", "run", str(flow), "--json") for _ in range(count)]
    for proc in procs:
        with stopped(proc):
            _, stderr = proc.communicate(timeout=120)
            assert proc.returncode == 0, stderr
    executions = Execution.objects.filter(flow_id="many")
    assert executions.count() == count
    assert {e.state for e in executions} == {"SUCCESS"}
    assert TaskRun.objects.filter(execution__flow_id="many", state="SUCCESS").count() == 5 * count


def test_killing_one_command_never_fails_another_commands_execution(tmp_path: Path) -> None:
    doomed, survivor = tmp_path / "doomed.yaml", tmp_path / "survivor.yaml"
    doomed.write_text("id: doomed\nnamespace: t\ntasks:\n  - {id: nap, type: sleep, duration: PT30S}\n")
    survivor.write_text(SLOW.replace("id: slow", "id: survivor"))
    env = child_env(CHOREO_LEASE_SECONDS="1", CHOREO_HEARTBEAT_SECONDS="0.2")
    with stopped(manage("flows", "run", str(doomed), "--json", env=env)) as victim:
        wait_until(lambda: TaskRun.objects.filter(task_id="nap", state="RUNNING").exists(), what="the doomed task")
        with stopped(manage("flows", "run", str(survivor), "--json", env=env)) as other:
            wait_until(lambda: TaskRun.objects.filter(task_id="first", state="RUNNING").exists(),
                       what="the survivor's task")
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait()
            stdout, stderr = other.communicate(timeout=60)
            assert other.returncode == 0, stderr + str(list(LogEntry.objects.values_list("message", flat=True)))
    survived = Execution.objects.get(flow_id="survivor")
    assert survived.state == "SUCCESS"
    assert all(len(r.attempts) == 1 for r in TaskRun.objects.filter(execution=survived))
    assert not LogEntry.objects.filter(execution=survived, message__contains="lost its worker").exists()
    # The killed command's execution is an orphan: the next engine takes it over.
    infra.reset()
    engine = Engine.from_settings(threads=2).start()
    try:
        exe = wait_until(lambda: _terminal(str(Execution.objects.get(flow_id="doomed").id)), timeout=20,
                         what="the orphan to be recovered")
    finally:
        engine.stop()
        infra.reset()
    assert exe.state == "FAILED"
    assert LogEntry.objects.filter(execution=exe, message__contains="lost its worker").exists()


GATE = """
id: gate
namespace: t
tasks:
  - {id: wait, type: pause}
  - {id: after, type: log, message: resumed}
"""


def test_a_resume_in_one_process_reaches_the_engine_of_another_at_once() -> None:
    services.deploy(GATE)
    latencies = []
    with stopped(manage("serve", "--role", "engine")) as server:
        wait_until(lambda: server.stdout.readline(), what="the server to start")  # type: ignore[union-attr]
        for _ in range(5):
            exe = services.create_execution("t", "gate", {})
            wait_until(lambda: Execution.objects.filter(id=exe.id, state="PAUSED").exists(), what="the pause")
            services.resume(exe.id, {})
            wait_until(lambda: _terminal(exe.id), what="the end")
            # From the resume's entry (this process) to the other engine's pass (its entry).
            entries = ExecutionEvent.objects.filter(execution_id=exe.id).order_by("seq")
            resumed = entries.filter(taskrun_id__isnull=False, state="RUNNING", payload__taskId="wait").last()
            assert resumed is not None
            woke = entries.filter(taskrun_id=None, state="RUNNING", seq__gt=resumed.seq).first()
            assert woke is not None
            latencies.append((woke.date - resumed.date).total_seconds())
    # PostgreSQL's NOTIFY arrives at commit; SQLite's table bus is polled every 0.1 s.
    bound = 0.1 if os.environ.get("DATABASE_URL", "").startswith("postgres") else 0.25
    print("resume latencies (s):", latencies)
    assert statistics.median(latencies) < bound, latencies
    assert all(e.state == "SUCCESS" for e in Execution.objects.filter(flow_id="gate"))
