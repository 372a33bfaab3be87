"""The engine end to end: real database, real worker threads, real processes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from flows.models import ExecutionEvent, Execution, TaskRun
from orchestrator.engine import services
from orchestrator.engine.runtime import Engine
from tests.helpers import Runner, document, history, terminal

ROOT = Path(__file__).resolve().parents[2]


def test_it_numbers_every_change_and_log_line_in_one_journal_without_gaps(runner: Runner) -> None:
    exe = runner.run("""
        id: logs
        namespace: t
        tasks:
          - {id: a, type: log, message: ["one", "two"]}
          - {id: b, type: log, message: three, level: WARN}
    """)
    assert exe.state == "SUCCESS"
    logs = runner.logs(exe)
    assert [(e.level, e.message) for e in logs] == [("INFO", "one"), ("INFO", "two"), ("WARN", "three")]
    assert [e.seq for e in logs] == sorted(e.seq for e in logs)
    assert {e.task_id for e in logs} == {"a", "b"}
    entries = list(ExecutionEvent.objects.filter(execution_id=exe.id).values_list("seq", "type"))
    numbers = sorted([seq for seq, _ in entries] + [e.seq for e in logs])
    assert numbers == list(range(1, exe.seq + 1))
    assert max(entries) == (exe.seq, "end")


def test_kill_stops_running_work_and_starts_nothing_new(runner: Runner) -> None:
    exe = runner.run("""
        id: killme
        namespace: t
        tasks:
          - {id: nap, type: sleep, duration: PT30S}
          - {id: never, type: return, format: x}
    """, wait=False)
    runner.wait(exe, lambda e: any(r.state == "RUNNING" for r in runner.taskruns(e)))
    started = time.monotonic()
    services.kill(str(exe.id))
    exe = runner.wait(exe, terminal, timeout=10)
    assert time.monotonic() - started < 5
    assert exe.state == "KILLED"
    assert runner.states(exe) == {"nap": "KILLED"}


def test_restart_runs_the_failed_task_again_and_drops_the_errors_branch(runner: Runner) -> None:
    flow = """
        id: restartable
        namespace: t
        tasks:
          - {id: ok, type: return, format: x}
          - id: flaky
            type: return
            format: "{{ taskrun.attemptsCount >= 1 ? 'fine' : boom }}"
        errors:
          - {id: handler, type: log, message: handled}
    """
    exe = runner.run(flow)
    assert exe.state == "FAILED"
    assert runner.states(exe) == {"ok": "SUCCESS", "flaky": "FAILED", "handler": "SUCCESS"}
    services.restart(str(exe.id))
    exe = runner.wait(exe, lambda e: e.state not in ("RESTARTED",) and terminal(e))
    assert exe.state == "SUCCESS"
    assert runner.states(exe) == {"ok": "SUCCESS", "flaky": "SUCCESS"}
    assert len(runner.taskrun(exe, "flaky").attempts) == 2
    assert history(exe)[-4:] == ["FAILED", "RESTARTED", "RUNNING", "SUCCESS"]


def test_replay_from_a_task_reuses_earlier_task_runs_in_a_new_execution(runner: Runner) -> None:
    exe = runner.run("""
        id: replayable
        namespace: t
        tasks:
          - {id: first, type: return, format: "{{ execution.id }}"}
          - {id: second, type: return, format: "{{ execution.id }}"}
    """)
    replay = services.replay(str(exe.id), "second")
    replay = runner.wait(replay, terminal)
    assert replay.state == "SUCCESS"
    assert str(replay.original_execution_id) == str(exe.id)
    first, second = runner.taskruns(replay)
    assert first.outputs["value"] == str(exe.id)  # copied, not run again
    assert second.outputs["value"] == str(replay.id)


def test_resuming_twice_is_a_no_op(runner: Runner) -> None:
    exe = runner.run("""
        id: pausing
        namespace: t
        tasks:
          - id: gate
            type: pause
            onResume:
              - {id: ok, type: BOOLEAN}
          - {id: after, type: return, format: "{{ outputs.gate.onResume.ok }}"}
    """)
    assert exe.state == "PAUSED"
    _, resumed = services.resume(str(exe.id), {"ok": "true"})
    assert resumed
    _, again = services.resume(str(exe.id), {"ok": "false"})
    assert not again
    exe = runner.wait(exe, terminal)
    assert runner.taskrun(exe, "after").outputs == {"value": "true"}


def test_resume_inputs_are_validated(runner: Runner) -> None:
    from orchestrator.engine.dsl import InputError

    exe = runner.run("""
        id: typed-resume
        namespace: t
        tasks:
          - id: gate
            type: pause
            onResume:
              - {id: count, type: INT}
    """)
    with pytest.raises(InputError) as info:
        services.resume(str(exe.id), {"count": "many"})
    assert any("count" in m for m in info.value.messages)
    exe.refresh_from_db()
    assert exe.state == "PAUSED"


def test_secret_inputs_are_encrypted_at_rest_and_masked_in_logs_and_json(runner: Runner) -> None:
    exe = runner.run("""
        id: secretive
        namespace: t
        inputs:
          - {id: token, type: SECRET}
        tasks:
          - {id: leak, type: log, message: "token is {{ inputs.token }}"}
          - {id: echo, type: return, format: "{{ inputs.token }}"}
    """, {"token": "hunter2-s3cret"})
    assert exe.state == "SUCCESS"
    assert "hunter2-s3cret" not in json.dumps(exe.inputs)
    assert runner.messages(exe) == ["token is ********"]
    text = json.dumps(document(exe))
    assert "hunter2-s3cret" not in text
    assert "********" in text
    journal = json.dumps(list(ExecutionEvent.objects.filter(execution_id=exe.id).values_list("payload", flat=True)))
    assert "hunter2-s3cret" not in journal


def test_parallel_never_runs_more_than_its_limit_at_once(runner: Runner) -> None:
    exe = runner.run("""
        id: limited
        namespace: t
        tasks:
          - id: par
            type: parallel
            concurrent: 2
            tasks:
              - {id: s1, type: sleep, duration: PT0.5S}
              - {id: s2, type: sleep, duration: PT0.5S}
              - {id: s3, type: sleep, duration: PT0.5S}
              - {id: s4, type: sleep, duration: PT0.5S}
    """)
    assert exe.state == "SUCCESS"
    spans = [(datetime.fromisoformat(r.attempts[0]["startDate"]), datetime.fromisoformat(r.attempts[0]["endDate"]))
             for r in runner.taskruns(exe) if r.task_id.startswith("s")]
    peak = max(sum(1 for s, e in spans if s <= moment < e) for moment, _ in spans)
    assert peak == 2


def test_foreach_with_a_concurrency_limit_of_one_runs_values_in_order(runner: Runner) -> None:
    exe = runner.run("""
        id: ordered
        namespace: t
        tasks:
          - id: each
            type: foreach
            values: [3, 1, 2]
            tasks:
              - {id: item, type: return, format: "{{ taskrun.value }}"}
    """)
    assert exe.state == "SUCCESS"
    items = [r for r in runner.taskruns(exe) if r.task_id == "item"]
    assert [r.value for r in items] == ["3", "1", "2"]
    ends = [r.end_date for r in items]
    starts = [r.attempts[0]["startDate"] for r in items]
    assert all(datetime.fromisoformat(starts[i + 1]) >= ends[i] for i in range(2))


def test_a_task_timeout_fails_the_task_with_a_reason(runner: Runner) -> None:
    exe = runner.run("""
        id: slow
        namespace: t
        tasks:
          - {id: nap, type: sleep, duration: PT30S, timeout: PT0.5S}
    """, timeout=15)
    assert exe.state == "FAILED"
    assert any("timed out" in m for m in runner.messages(exe))


def test_subflow_outputs_and_labels_reach_the_parent(runner: Runner) -> None:
    child = """
        id: child
        namespace: t
        inputs:
          - {id: n, type: INT}
        tasks:
          - {id: double, type: return, format: "{{ inputs.n * 2 }}"}
        outputs:
          - {id: result, type: STRING, value: "{{ outputs.double.value }}"}
    """
    exe = runner.run("""
        id: parent
        namespace: t
        labels: {team: data}
        tasks:
          - id: call
            type: subflow
            namespace: t
            flowId: child
            inputs: {n: 21}
            inheritLabels: true
          - {id: show, type: return, format: "{{ outputs.call.outputs.result }}"}
    """, with_flows=(child,))
    assert exe.state == "SUCCESS", runner.describe(exe)
    assert runner.taskrun(exe, "show").outputs == {"value": "42"}
    sub = Execution.objects.get(parent_execution=exe)
    assert sub.labels.get("team") == "data"
    assert sub.state == "SUCCESS"


def test_labels_task_sets_execution_labels(runner: Runner) -> None:
    exe = runner.run("""
        id: labelled
        namespace: t
        tasks:
          - id: tag
            type: labels
            labels:
              stage: "{{ 'prod' | upper }}"
    """)
    assert exe.state == "SUCCESS"
    assert exe.labels["stage"] == "PROD"


def test_a_lost_worker_is_detected_and_the_task_run_fails_with_a_reason(runner: Runner, engine: Engine) -> None:
    exe = runner.run("""
        id: orphan
        namespace: t
        tasks:
          - {id: nap, type: sleep, duration: PT0.1S}
    """)
    run = runner.taskrun(exe, "nap")
    # Pretend another process had been running a second attempt and died (it is not a
    # registered, heartbeating instance).
    TaskRun.objects.filter(id=run.id).update(
        state="RUNNING", lease_owner="ghost:1",
        attempts=[*run.attempts, {"state": "RUNNING", "startDate": timezone.now().isoformat()}],
    )
    Execution.objects.filter(id=exe.id).update(state="RUNNING", end_date=None)
    engine.scan(timezone.now())
    exe = runner.wait(exe, terminal)
    assert exe.state == "FAILED"
    assert any("lost its worker" in m for m in runner.messages(exe))


def _cli_env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": _db_url(),
            "CHOREO_DATA_DIR": str(settings.CHOREO_DATA_DIR), "CHOREO_LEASE_SECONDS": "2",
            "CHOREO_HEARTBEAT_SECONDS": "1"}


def _db_url() -> str:
    db = settings.DATABASES["default"]
    if "sqlite" in db["ENGINE"]:
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def test_work_of_a_killed_process_is_recovered_and_retried(runner: Runner, engine: Engine, tmp_path: Path) -> None:
    flow = tmp_path / "recover.yaml"
    flow.write_text(
        "id: recover\nnamespace: t\ntasks:\n"
        "  - id: nap\n    type: sleep\n    duration: PT3S\n"
        "    retry: {type: constant, interval: PT0.1S, maxAttempt: 2}\n"
    )
    engine.stop()  # this process's engine stays out of it until the other one dies
    proc = subprocess.Popen([sys.executable, "manage.py", "flows", "run", str(flow), "--json"], cwd=ROOT,
                            env=_cli_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not TaskRun.objects.filter(task_id="nap", state="RUNNING").exists():
            assert time.monotonic() < deadline, proc.stderr.read() if proc.poll() is not None else "no start"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    recovering = Engine.from_settings(threads=2).start()
    try:
        exe = runner.wait(Execution.objects.get(flow_id="recover"), terminal, timeout=30)
    finally:
        recovering.stop()
    run = runner.taskrun(exe, "nap")
    assert exe.state == "SUCCESS"
    assert [a["state"] for a in run.attempts] == ["FAILED", "SUCCESS"]
    assert any("lost its worker" in m for m in runner.messages(exe))


CONCURRENT = """
id: one-at-a-time
namespace: t
concurrency:
  limit: 1
  behavior: {behavior}
tasks:
  - {{id: nap, type: sleep, duration: PT0.3S}}
"""


def test_a_concurrency_limit_queues_executions_and_runs_them_one_at_a_time(runner: Runner) -> None:
    deployed = runner.deploy(CONCURRENT.format(behavior="QUEUE"))
    executions = [services.create_execution("t", deployed.flow.flow_id, {}) for _ in range(3)]
    done = [runner.wait(e, terminal) for e in executions]
    assert [e.state for e in done] == ["SUCCESS"] * 3
    assert any("QUEUED" in history(e) for e in done)
    spans = sorted((e.start_date_of_run, e.end_date) for e in (_with_run_start(runner, e) for e in done))
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(2)), spans


def _with_run_start(runner: Runner, exe: Execution) -> Execution:
    run = runner.taskrun(exe, "nap")
    exe.start_date_of_run = datetime.fromisoformat(run.attempts[0]["startDate"])  # type: ignore[attr-defined]
    return exe


def test_a_concurrency_limit_can_cancel_or_fail_the_extra_executions(runner: Runner) -> None:
    for behavior, expected in (("CANCEL", "CANCELLED"), ("FAIL", "FAILED")):
        deployed = runner.deploy(CONCURRENT.format(behavior=behavior).replace("one-at-a-time", f"only-{behavior}"))
        first = services.create_execution("t", deployed.flow.flow_id, {})
        runner.wait(first, lambda e: e.state == "RUNNING")
        second = runner.wait(services.create_execution("t", deployed.flow.flow_id, {}), terminal)
        assert second.state == expected
        assert any("concurrency limit" in m for m in runner.messages(second))
        assert runner.wait(first, terminal).state == "SUCCESS"


def test_an_execution_whose_passes_keep_failing_is_failed_with_the_error(runner: Runner) -> None:
    exe = runner.run("""
        id: poisoned
        namespace: t
        tasks:
          - {id: gate, type: pause}
    """)
    # Corrupt data: a task run of a task the flow does not have makes every pass raise.
    TaskRun.objects.create(id="00000000-0000-0000-0000-00000000dead", execution=exe, task_id="ghost",
                           key="/ghost/", seq=99, state="RUNNING")
    # Written behind the store's back (no journal entry): engines must read everything again.
    Execution.objects.filter(id=exe.id).update(version=F("version") + 1)
    services.resume(str(exe.id), {})
    exe = runner.wait(exe, terminal, timeout=20)
    assert exe.state == "FAILED"
    assert any("Internal error while advancing the execution" in m and "ghost" in m for m in runner.messages(exe))
    assert all(r.state in ("FAILED", "SUCCESS") for r in runner.taskruns(exe))
