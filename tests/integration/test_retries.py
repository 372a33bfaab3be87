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
