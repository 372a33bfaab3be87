"""Subflow tasks whose child cannot start fail with a reason, and the execution ends."""
from __future__ import annotations

from flows.models import Execution
from tests.helpers import Runner


def _errors(runner: Runner, exe: Execution) -> list[str]:
    return [e.message for e in runner.logs(exe) if e.level == "ERROR"]


def test_subflows_of_a_missing_flow_fail_and_so_does_the_execution(runner: Runner) -> None:
    exe = runner.run_fixture("subflow_not_found")
    assert exe.state == "FAILED"
    runs = runner.taskruns(exe)
    assert sorted((r.task_id, r.state) for r in runs) == [
        ("each", "FAILED"), ("subflow-not-exist", "FAILED"), ("subflow-not-exist", "FAILED")]
    for value in ("value-1", "value-2"):
        assert any(f"Cannot start subflow dev.{value}: No flow dev.{value}: deploy it first" in m
                   and "flowId" in m for m in _errors(runner, exe)), _errors(runner, exe)
    assert not Execution.objects.filter(parent_execution=exe).exists()


def test_a_subflow_whose_flow_id_does_not_render_fails_naming_the_problem(runner: Runner) -> None:
    exe = runner.run("""
        id: bad-flow-id
        namespace: t
        tasks:
          - {id: call, type: subflow, namespace: t, flowId: "{{ inputs.missing }}"}
    """)
    assert exe.state == "FAILED"
    assert runner.states(exe) == {"call": "FAILED"}
    assert any("Subflow task [call] cannot start" in m and "missing" in m for m in _errors(runner, exe))


def test_inputs_the_child_refuses_fail_the_subflow_task_with_the_childs_reason(runner: Runner) -> None:
    child = """
        id: strict-child
        namespace: t
        inputs:
          - {id: n, type: INT}
        tasks:
          - {id: show, type: log, message: "{{ inputs.n }}"}
    """
    exe = runner.run("""
        id: sloppy-parent
        namespace: t
        tasks:
          - {id: call, type: subflow, namespace: t, flowId: strict-child, inputs: {n: not-a-number}}
    """, with_flows=(child,))
    assert exe.state == "FAILED"
    run = runner.taskrun(exe, "call")
    assert run.state == "FAILED"
    assert [a["state"] for a in run.attempts] == ["FAILED"]
    assert any("Subflow t.strict-child refused its inputs" in m and "'n'" in m for m in _errors(runner, exe))


def test_a_missing_flow_is_retried_by_the_tasks_policy_then_fails(runner: Runner) -> None:
    exe = runner.run("""
        id: retry-missing
        namespace: t
        tasks:
          - id: call
            type: subflow
            namespace: t
            flowId: not-deployed-yet
            retry: {type: constant, interval: PT0.1S, maxAttempt: 2}
    """)
    assert exe.state == "FAILED"
    assert [a["state"] for a in runner.taskrun(exe, "call").attempts] == ["FAILED", "FAILED"]


def test_a_disabled_flow_cannot_be_started_as_a_subflow(runner: Runner) -> None:
    runner.deploy("""
        id: switched-off
        namespace: t
        disabled: true
        tasks:
          - {id: a, type: log, message: x}
    """)
    exe = runner.run("""
        id: calls-disabled
        namespace: t
        tasks:
          - {id: call, type: subflow, namespace: t, flowId: switched-off}
    """)
    assert exe.state == "FAILED"
    assert any("Flow t.switched-off is disabled" in m for m in _errors(runner, exe))


def test_a_subflow_that_waits_reports_the_childs_execution_id_in_outputs_and_attempts(runner: Runner) -> None:
    runner.deploy("""
        id: quick-child
        namespace: t
        tasks:
          - {id: a, type: return, format: done}
    """)
    exe = runner.run("""
        id: quick-parent
        namespace: t
        tasks:
          - {id: call, type: subflow, namespace: t, flowId: quick-child}
    """)
    assert exe.state == "SUCCESS"
    run = runner.taskrun(exe, "call")
    child = Execution.objects.get(id=run.outputs["executionId"])
    assert child.parent_execution_id == exe.id
    assert [(a["state"], a["executionId"]) for a in run.attempts] == [("SUCCESS", str(child.id))]
    assert run.attempts[0]["startDate"] <= run.attempts[0]["endDate"]
