"""allowWarning, with allowFailure and warningOnRetry, where the worker ends a task run."""
from __future__ import annotations

from tests.helpers import Runner


def test_allow_warning_ends_a_task_that_warned_in_success(runner: Runner) -> None:
    exe = runner.run("""
        id: warned
        namespace: t
        tasks:
          - {id: tolerated, type: shell, commands: ["echo careful >&2"], allowWarning: true}
          - {id: noted, type: shell, commands: ["echo careful >&2"]}
    """, timeout=30)
    assert runner.states(exe) == {"tolerated": "SUCCESS", "noted": "WARNING"}
    assert exe.state == "WARNING"


def test_allow_warning_alone_makes_a_flow_of_warnings_succeed(runner: Runner) -> None:
    exe = runner.run("""
        id: all-tolerated
        namespace: t
        tasks:
          - {id: tolerated, type: shell, commands: ["echo careful >&2"], allowWarning: true}
    """, timeout=30)
    assert exe.state == "SUCCESS"
    assert runner.messages(exe) == ["careful"]


def test_allow_failure_ends_a_failed_task_in_warning_and_the_next_task_runs(runner: Runner) -> None:
    exe = runner.run("""
        id: failed-allowed
        namespace: t
        tasks:
          - {id: broken, type: fail, errorMessage: boom, allowFailure: true}
          - {id: next, type: return, format: x}
    """)
    assert runner.states(exe) == {"broken": "WARNING", "next": "SUCCESS"}
    assert exe.state == "WARNING"
    assert [(e.level, e.message) for e in runner.logs(exe)] == [("ERROR", "boom")]


def test_allow_failure_with_allow_warning_ends_a_failed_task_in_success(runner: Runner) -> None:
    exe = runner.run("""
        id: failed-tolerated
        namespace: t
        tasks:
          - {id: broken, type: fail, errorMessage: boom, allowFailure: true, allowWarning: true}
          - {id: next, type: return, format: x}
    """)
    assert runner.states(exe) == {"broken": "SUCCESS", "next": "SUCCESS"}
    assert exe.state == "SUCCESS"
    assert runner.taskrun(exe, "broken").attempts[0]["state"] == "FAILED"
    assert [(e.level, e.message) for e in runner.logs(exe)] == [("ERROR", "boom")]


def test_a_success_after_retries_warns_unless_warnings_are_allowed(runner: Runner) -> None:
    flaky = """
        id: {id}
        namespace: t
        tasks:
          - id: flaky
            type: log
            message: "{{{{ taskrun.attemptsCount >= 1 ? 'second time lucky' : missing_on_purpose }}}}"
            retry: {{type: constant, interval: PT0.1S, maxAttempt: 2, warningOnRetry: true}}
            allowWarning: {allow}
    """
    warned = runner.run(flaky.format(id="retried", allow="false"), timeout=15)
    assert (runner.states(warned), warned.state) == ({"flaky": "WARNING"}, "WARNING")
    tolerated = runner.run(flaky.format(id="retried-tolerated", allow="true"), timeout=15)
    assert (runner.states(tolerated), tolerated.state) == ({"flaky": "SUCCESS"}, "SUCCESS")
    assert len(runner.taskrun(tolerated, "flaky").attempts) == 2
