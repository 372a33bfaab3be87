"""The check run after every engine test: nothing stays non-terminal with nobody on it."""
from __future__ import annotations

import pytest

from flows.models import TaskRun
from orchestrator.engine import services
from tests.helpers import Runner, assert_nothing_stuck, stuck_executions


def test_paused_executions_timers_and_running_work_are_not_stuck(runner: Runner) -> None:
    paused = runner.run("""
        id: waits-for-someone
        namespace: t
        tasks:
          - {id: approve, type: pause}
    """)
    retrying = runner.run("""
        id: retries-later
        namespace: t
        tasks:
          - {id: flaky, type: fail, retry: {type: constant, interval: PT1M, maxAttempt: 2}}
    """, wait=False)
    runner.wait(retrying, lambda e: runner.states(e) == {"flaky": "RETRYING"})
    sleeping = runner.run("""
        id: works
        namespace: t
        tasks:
          - {id: nap, type: sleep, duration: PT30S}
    """, wait=False)
    runner.wait(sleeping, lambda e: runner.states(e) == {"nap": "RUNNING"})
    assert paused.state == "PAUSED"
    assert stuck_executions() == []
    for exe in (paused, retrying, sleeping):
        services.kill(str(exe.id))


@pytest.mark.leaves_work_unfinished(reason="it strands an execution on purpose to see the check report it")
def test_an_execution_nobody_works_on_is_reported_with_its_task_runs(runner: Runner) -> None:
    exe = runner.run("""
        id: stranded
        namespace: t
        tasks:
          - {id: nap, type: sleep, duration: PT30S}
    """, wait=False)
    run = runner.wait(exe, lambda e: runner.states(e) == {"nap": "RUNNING"}) and runner.taskrun(exe, "nap")
    # As if its worker had died without a lease anyone could see expire.
    services.kill(str(exe.id))
    runner.wait(exe, lambda e: e.state == "KILLED" or runner.states(e) == {"nap": "KILLED"})
    TaskRun.objects.filter(id=run.id).update(state="RUNNING", lease_owner="")
    type(exe).objects.filter(id=exe.id).update(state="RUNNING", end_date=None, owner="")
    with pytest.raises(AssertionError) as failure:
        assert_nothing_stuck(grace=0.2)
    # The engine may have taken it over again by then: an owner with no work is no better.
    assert f"execution {exe.id} (t.stranded) is RUNNING, owner " in str(failure.value)
    assert "    nap RUNNING" in str(failure.value)
