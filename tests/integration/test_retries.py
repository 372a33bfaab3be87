"""Retries as Kestra runs them: on flowables, on Subflow tasks, and as new executions.

The flows are fixtures modelled on Kestra's retry-*.yaml test flows; the assertions are
those of Kestra's RetryCaseTest (with shorter intervals).
"""
from __future__ import annotations

from datetime import datetime

from flows.models import Execution
from tests.helpers import document as execution_json
from tests.helpers import Runner, terminal


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


def test_create_new_execution_retries_the_flow_in_new_executions_until_attempts_run_out(runner: Runner) -> None:
    first = runner.run_fixture("retry_new_execution", {"who": "Ada"}, wait=False)
    chain = runner.wait_chain(first)
    assert [e.state for e in chain] == ["RETRIED", "RETRIED", "FAILED"]
    assert [e.meta.get("attempt", 1) for e in chain] == [1, 2, 3]
    for earlier, later in zip(chain, chain[1:]):
        assert later.original_execution_id == earlier.id
        assert later.revision_id == earlier.revision_id
        assert later.inputs == earlier.inputs == {"who": "Ada"}
        assert later.labels == earlier.labels
        # It starts once the interval has passed since the failure.
        assert later.start_date >= earlier.end_date
        assert later.start_date == datetime.fromisoformat(later.meta["not_before"])
    assert {e.labels["system.correlationId"] for e in chain} == {str(first.id)}
    assert chain[0].labels["team"] == "data"
    for exe in chain[:-1]:
        assert runner.states(exe) == {"fail": "RETRIED"}
        assert any("attempt 2 starts" in m or "starts as a new execution" in m for m in runner.messages(exe))
    assert runner.states(chain[-1]) == {"fail": "FAILED"}
    assert any(f"Ada fails (correlation {first.id})" in m for m in runner.messages(chain[-1]))
    assert execution_json(chain[1])["originalId"] == str(chain[0].id)


def test_a_flow_level_create_new_execution_applies_to_every_task(runner: Runner) -> None:
    first = runner.run("""
        id: flow-new-execution
        namespace: t
        retry: {behavior: CREATE_NEW_EXECUTION, type: constant, maxAttempt: 2, interval: PT0.1S}
        tasks:
          - {id: ok, type: return, format: fine}
          - {id: boom, type: fail}
        errors:
          - {id: on_error, type: log, message: handled}
    """, wait=False)
    chain = runner.wait_chain(first)
    assert [e.state for e in chain] == ["RETRIED", "FAILED"]
    # A RETRIED execution hands over at once: its errors branch does not run (as in Kestra).
    assert runner.states(chain[0]) == {"ok": "SUCCESS", "boom": "RETRIED"}
    assert runner.states(chain[1]) == {"ok": "SUCCESS", "boom": "FAILED", "on_error": "SUCCESS"}


def test_a_subflow_execution_retried_as_a_new_execution_reports_its_last_attempt_to_the_parent(
        runner: Runner) -> None:
    child = """
        id: child-retried
        namespace: t
        retry: {behavior: CREATE_NEW_EXECUTION, type: constant, maxAttempt: 2, interval: PT0.1S}
        tasks:
          - {id: boom, type: fail}
    """
    exe = runner.run("""
        id: parent-of-retried
        namespace: t
        tasks:
          - {id: call, type: subflow, namespace: t, flowId: child-retried}
    """, with_flows=(child,))
    assert exe.state == "FAILED"
    children = list(Execution.objects.filter(parent_execution=exe).order_by("created_at"))
    assert [c.state for c in children] == ["RETRIED", "FAILED"]
    assert runner.taskrun(exe, "call").outputs["state"] == "FAILED"
    assert all(terminal(c) for c in children)
