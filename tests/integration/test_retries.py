"""Retries as Kestra runs them: on flowables, on Subflow tasks, and as new executions.

The flows are fixtures modelled on Kestra's retry-*.yaml test flows; the assertions are
those of Kestra's RetryCaseTest (with shorter intervals).
"""
from __future__ import annotations

from flows.models import Execution
from tests.helpers import Runner


def _attempt_states(runner: Runner, exe: Execution, task_id: str) -> list[list[str]]:
    return [[a["state"] for a in r.attempts] for r in runner.taskruns(exe) if r.task_id == task_id]


def test_a_flowables_retry_gives_its_failing_child_new_attempts(runner: Runner) -> None:
    exe = runner.run_fixture("retry_flowable")
    assert exe.state == "FAILED"
    assert runner.states(exe) == {"flowable": "FAILED", "child": "FAILED"}
    assert _attempt_states(runner, exe, "child") == [["FAILED", "FAILED", "FAILED"]]


def test_the_nearest_retry_policy_wins(runner: Runner) -> None:
    exe = runner.run_fixture("retry_flowable_nested_child")
    assert exe.state == "FAILED"
    assert len(_attempt_states(runner, exe, "child")[0]) == 3  # its own policy
    assert len(_attempt_states(runner, exe, "sibling")[0]) == 2  # the grandparent's


def test_each_iteration_of_a_foreach_is_retried_by_the_foreachs_policy(runner: Runner) -> None:
    exe = runner.run_fixture("retry_flowable_parallel")
    assert exe.state == "FAILED"
    assert [len(a) for a in _attempt_states(runner, exe, "child")] == [3, 3]


def test_a_flow_retry_relaunches_a_failed_subflow_once_per_attempt(runner: Runner) -> None:
    exe = runner.run_fixture("retry_subflow", with_fixtures=("always_fails",))
    assert exe.state == "FAILED"
    run = runner.taskrun(exe, "subflow")
    assert [a["state"] for a in run.attempts] == ["FAILED", "FAILED", "FAILED"]
    assert all(a["startDate"] and a["endDate"] for a in run.attempts)
    children = [a["executionId"] for a in run.attempts]
    assert len(set(children)) == 3
    assert [Execution.objects.get(id=c).state for c in children] == ["FAILED"] * 3
    assert run.outputs["executionId"] == children[-1]
    assert sum("retrying at" in m for m in runner.messages(exe)) == 2


def test_a_subflow_retried_until_it_succeeds_warns_when_asked(runner: Runner) -> None:
    child = """
        id: flaky
        namespace: t
        inputs:
          - {id: attempt, type: INT}
        tasks:
          - {id: maybe, type: fail, condition: "{{ inputs.attempt < 2 }}"}
    """
    exe = runner.run("""
        id: caller
        namespace: t
        tasks:
          - id: call
            type: subflow
            namespace: t
            flowId: flaky
            inputs: {attempt: "{{ taskrun.attemptsCount }}"}
            retry: {type: constant, interval: PT0.1S, maxAttempts: 5, warningOnRetry: true}
    """, with_flows=(child,))
    run = runner.taskrun(exe, "call")
    assert [a["state"] for a in run.attempts] == ["FAILED", "FAILED", "SUCCESS"]
    assert run.state == "WARNING" and exe.state == "WARNING"
