"""Kestra's system labels: every execution of a chain carries the first one's id."""
from __future__ import annotations

from flows.models import Execution
from orchestrator.engine import services
from tests.helpers import Runner, terminal

CORRELATION = "system.correlationId"


def test_an_execution_is_its_own_correlation_id_and_expressions_read_it(runner: Runner) -> None:
    exe = runner.run("""
        id: correlated
        namespace: t
        labels: {team: data, owner.name: ada}
        tasks:
          - id: show
            type: return
            format: "{{ labels.system.correlationId }} {{ labels.team }} {{ labels.owner.name }}"
    """)
    assert exe.state == "SUCCESS"
    assert exe.labels == {"team": "data", "owner.name": "ada", CORRELATION: str(exe.id)}
    assert runner.taskrun(exe, "show").outputs["value"] == f"{exe.id} data ada"


def test_subflow_executions_carry_the_parents_correlation_id_without_inheriting_labels(runner: Runner) -> None:
    child = """
        id: correlated-child
        namespace: t
        labels: {kind: child}
        tasks:
          - {id: show, type: return, format: "{{ labels.system.correlationId }}"}
    """
    exe = runner.run("""
        id: correlated-parent
        namespace: t
        labels: {team: data}
        tasks:
          - {id: call, type: subflow, namespace: t, flowId: correlated-child, inheritLabels: false}
    """, with_flows=(child,))
    assert exe.state == "SUCCESS", runner.describe(exe)
    sub = Execution.objects.get(parent_execution=exe)
    assert sub.labels == {"kind": "child", CORRELATION: str(exe.id)}
    assert runner.taskrun(sub, "show").outputs["value"] == str(exe.id)


def test_replays_keep_the_correlation_id_and_restarts_keep_the_execution_and_its_labels(runner: Runner) -> None:
    exe = runner.run("""
        id: replayed
        namespace: t
        tasks:
          - {id: a, type: return, format: x}
          - {id: b, type: fail}
    """)
    assert exe.state == "FAILED"
    replay = runner.wait(services.replay(str(exe.id), "b"), terminal)
    assert replay.labels == {CORRELATION: str(exe.id), "system.replay": "true"}
    services.restart(str(exe.id))
    exe = runner.wait(exe, lambda e: e.state != "RESTARTED" and terminal(e))
    assert exe.labels == {CORRELATION: str(exe.id), "system.restarted": "true"}
