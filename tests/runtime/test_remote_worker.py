"""A job can leave the engine's process: another process receives only the serialised
job, heartbeats, obeys a kill sent on the bus, and when it dies its attempt is recovered
by lease expiry while its task processes die with it."""
from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.models import Execution, LogEntry, TaskRun
from orchestrator.engine import infra, services
from orchestrator.engine.queue.base import Job
from orchestrator.engine.runtime import Engine
from tests.runtime.support import CaptureQueue, child_env, manage, stopped, wait_until

FLOW = """
id: remote
namespace: t
tasks:
  - id: work
    type: shell
    commands:
      - echo $$ > {pidfile}
      - sleep 60
"""


@pytest.fixture
def engine(transactional_db: None) -> Iterator[Engine]:
    infra.reset()
    CaptureQueue.jobs = []
    started = Engine.from_settings(queue_backend="tests.runtime.support.CaptureQueue").start()
    yield started
    started.stop()
    infra.reset()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state


def _start_remote(tmp_path: Path) -> tuple[str, Job, int, object]:
    pidfile = tmp_path / "pid"
    services.deploy(FLOW.format(pidfile=pidfile))
    exe = services.create_execution("t", "remote", {})
    job = wait_until(lambda: next((j for j in CaptureQueue.jobs if j.execution_id == exe.id), None),
                     what="the engine to queue the job")
    worker = manage("worker", "--job", job.to_json(),
                    env=child_env(CHOREO_LEASE_SECONDS="1", CHOREO_HEARTBEAT_SECONDS="0.2"))
    pid = int(wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), what="the script to start"))
    run = TaskRun.objects.get(execution_id=exe.id)
    assert run.state == "RUNNING" and run.lease_owner.startswith("worker:")
    return exe.id, job, pid, worker


def test_a_job_runs_in_another_process_that_obeys_a_kill_sent_on_the_bus(engine: Engine, tmp_path: Path) -> None:
    execution_id, job, pid, worker = _start_remote(tmp_path)
    with stopped(worker):  # type: ignore[arg-type]
        services.kill(execution_id)
        assert worker.wait(20) == 0, worker.stderr.read()  # type: ignore[attr-defined]
    wait_until(lambda: not _alive(pid), timeout=5, what="the script's process to end")
    exe = wait_until(lambda: Execution.objects.filter(id=execution_id, state="KILLED").first(), timeout=20,
                     what="the execution to end KILLED")
    run = TaskRun.objects.get(execution_id=exe.id)
    assert run.state == "KILLED"
    assert [a["state"] for a in run.attempts] == ["KILLED"]
    assert run.attempts[0]["worker"].startswith("worker:")


def test_a_dead_worker_is_recovered_by_lease_expiry_and_its_processes_die_with_it(engine: Engine,
                                                                                  tmp_path: Path) -> None:
    execution_id, job, pid, worker = _start_remote(tmp_path)
    with stopped(worker):  # type: ignore[arg-type]
        os.kill(worker.pid, signal.SIGKILL)  # type: ignore[attr-defined]
        worker.wait()  # type: ignore[attr-defined]
        wait_until(lambda: not _alive(pid), timeout=5, what="the script's process to die with its worker")
    exe = wait_until(lambda: Execution.objects.filter(id=execution_id, state="FAILED").first(), timeout=20,
                     what="the lost attempt to be recovered")
    run = TaskRun.objects.get(execution_id=exe.id)
    assert [a["state"] for a in run.attempts] == ["FAILED"]
    messages = LogEntry.objects.filter(execution_id=exe.id).values_list("message", flat=True)
    assert any("lost its worker" in m and "worker:" in m for m in messages)
