"""The executor's decisions as a pure function: no database, no clock, no sleeps."""
from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta

from orchestrator.engine.dsl import parse_flow
from orchestrator.engine.executor import (
    CreateTaskRun,
    ExecutionView,
    LogLine,
    RetryExecution,
    StartSubflow,
    TaskRunView,
    UpdateExecution,
    UpdateTaskRun,
    decide,
)
from orchestrator.engine.executor.decide import Decider
from orchestrator.engine.states import State

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def spec(text: str):  # type: ignore[no-untyped-def]
    result = parse_flow(textwrap.dedent(text))
    assert result.flow is not None, [e.format() for e in result.errors]
    return result.flow


def execution(state: State = State.CREATED, runs: list[TaskRunView] | None = None, **inputs: object) -> ExecutionView:
    return ExecutionView(id="e1", namespace="t", flow_id="f", revision=1, state=state, start_date=NOW,
                         inputs=dict(inputs), taskruns=runs or [])


def apply(view: ExecutionView, decisions: list) -> ExecutionView:  # type: ignore[type-arg]
    """What the apply layer would store, enough for the next decide call."""
    runs = {r.id: r for r in view.taskruns}
    for d in decisions:
        if isinstance(d, CreateTaskRun):
            runs[d.run.id] = d.run
        elif isinstance(d, UpdateTaskRun):
            run = runs[d.id]
            run.state = d.new
            if d.outputs is not None:
                run.outputs = d.outputs
            if d.meta is not None:
                run.meta = d.meta
            if d.clear_wake:
                run.wake_at = None
            if d.wake_at is not None:
                run.wake_at = d.wake_at
            if d.attempts is not None:
                run.attempts = d.attempts
        elif isinstance(d, UpdateExecution):
            view.state = d.new
    view.taskruns = sorted(runs.values(), key=lambda r: r.seq)
    return view


def finish(view: ExecutionView, task_id: str, state: State = State.SUCCESS, outputs: dict | None = None) -> None:  # type: ignore[type-arg]
    run = next(r for r in view.taskruns if r.task_id == task_id and not r.state.is_terminal)
    run.state = state
    run.outputs = outputs or {}
    run.attempts.append({"state": state.value})


SEQ = """
id: f
namespace: t
tasks:
  - id: a
    type: return
    format: x
  - id: b
    type: return
    format: y
errors:
  - id: on_error
    type: log
    message: failed
finally:
  - id: always
    type: log
    message: done
"""


def test_it_starts_only_the_first_task_of_a_sequence() -> None:
    decisions = decide(spec(SEQ), execution(), NOW)
    assert isinstance(decisions[0], UpdateExecution) and decisions[0].new == State.RUNNING
    created = [d.run.task_id for d in decisions if isinstance(d, CreateTaskRun)]
    assert created == ["a"]
    assert all(d.enqueue for d in decisions if isinstance(d, CreateTaskRun))


def test_it_does_not_change_its_input_snapshot() -> None:
    view = execution()
    decide(spec(SEQ), view, NOW)
    assert view.state == State.CREATED and view.taskruns == []


def test_it_runs_finally_after_success_and_ends_successful() -> None:
    s = spec(SEQ)
    view = apply(execution(), decide(s, execution(), NOW))
    finish(view, "a")
    view = apply(view, decide(s, view, NOW))
    finish(view, "b")
    view = apply(view, decide(s, view, NOW))
    assert [r.task_id for r in view.taskruns] == ["a", "b", "always"]
    finish(view, "always")
    decisions = decide(s, view, NOW)
    assert decisions[-1] == UpdateExecution(old=State.RUNNING, new=State.SUCCESS, outputs=None)


def test_a_failure_runs_errors_then_finally_and_the_execution_fails() -> None:
    s = spec(SEQ)
    view = apply(execution(), decide(s, execution(), NOW))
    finish(view, "a", State.FAILED)
    view = apply(view, decide(s, view, NOW))
    assert [r.task_id for r in view.taskruns] == ["a", "on_error"]
    finish(view, "on_error")
    view = apply(view, decide(s, view, NOW))
    finish(view, "always")
    decisions = decide(s, view, NOW)
    assert isinstance(decisions[-1], UpdateExecution) and decisions[-1].new == State.FAILED


def test_parallel_respects_its_concurrency_limit() -> None:
    s = spec("""
        id: f
        namespace: t
        tasks:
          - id: par
            type: parallel
            concurrent: 2
            tasks:
              - {id: p1, type: return, format: x}
              - {id: p2, type: return, format: x}
              - {id: p3, type: return, format: x}
    """)
    view = apply(execution(), decide(s, execution(), NOW))
    assert [r.task_id for r in view.taskruns] == ["par", "p1", "p2"]
    finish(view, "p1")
    view = apply(view, decide(s, view, NOW))
    assert [r.task_id for r in view.taskruns] == ["par", "p1", "p2", "p3"]


def test_foreach_children_carry_the_loop_value_and_outputs_are_keyed_by_it() -> None:
    s = spec("""
        id: f
        namespace: t
        tasks:
          - id: each
            type: foreach
            values: ["a", "b"]
            concurrencyLimit: 0
            tasks:
              - {id: r, type: return, format: "{{ taskrun.value }}"}
          - id: after
            type: return
            format: "{{ outputs.r.b.value }}"
    """)
    view = apply(execution(), decide(s, execution(), NOW))
    assert [(r.task_id, r.value) for r in view.taskruns] == [("each", None), ("r", "a"), ("r", "b")]
    for run in view.taskruns[1:]:
        run.state, run.outputs = State.SUCCESS, {"value": run.value}
    view = apply(view, decide(s, view, NOW))
    assert view.taskruns[0].state == State.SUCCESS
    assert view.taskruns[-1].task_id == "after"


def test_a_false_run_if_makes_a_skipped_task_run_and_a_broken_one_fails() -> None:
    s = spec("""
        id: f
        namespace: t
        tasks:
          - {id: skipped, type: return, format: x, runIf: "{{ 1 == 2 }}"}
          - {id: broken, type: return, format: x, runIf: "{{ nope.nothing }}"}
    """)
    view = apply(execution(), decide(s, execution(), NOW))
    states = {r.task_id: r.state for r in view.taskruns}
    assert states == {"skipped": State.SKIPPED, "broken": State.FAILED}
    assert view.state == State.FAILED


def test_a_failing_switch_value_names_the_missing_variable_in_a_log() -> None:
    s = spec("""
        id: f
        namespace: t
        tasks:
          - id: sw
            type: switch
            value: "{{ inputs.invalid }}"
            cases:
              A: [{id: a, type: return, format: x}]
    """)
    decisions = decide(s, execution(), NOW)
    logs = [d.message for d in decisions if isinstance(d, LogLine)]
    assert any("inputs.invalid" in m for m in logs), logs
    assert isinstance(decisions[-1], UpdateExecution) and decisions[-1].new == State.FAILED


def test_a_retrying_task_is_requeued_only_once_its_timer_is_due() -> None:
    s = spec(SEQ)
    view = apply(execution(), decide(s, execution(), NOW))
    run = view.taskruns[0]
    run.state, run.wake_at = State.RETRYING, NOW + timedelta(seconds=5)
    assert not any(isinstance(d, UpdateTaskRun) for d in decide(s, view, NOW))
    later = decide(s, view, NOW + timedelta(seconds=5))
    requeue = [d for d in later if isinstance(d, UpdateTaskRun)]
    assert requeue and requeue[0].new == State.QUEUED and requeue[0].enqueue


def test_kill_ends_waiting_task_runs_and_waits_for_running_ones() -> None:
    s = spec(SEQ)
    view = apply(execution(), decide(s, execution(), NOW))
    view.state = State.KILLING
    view.taskruns[0].state = State.RUNNING
    decisions = decide(s, view, NOW)
    assert decisions == []
    view.taskruns[0].state = State.KILLED
    decisions = decide(s, view, NOW)
    assert decisions == [UpdateExecution(old=State.KILLING, new=State.KILLED)]


def test_a_pause_with_a_timeout_pauses_then_fails_when_due() -> None:
    s = spec("""
        id: f
        namespace: t
        tasks:
          - id: wait
            type: pause
            timeout: PT1S
          - {id: after, type: return, format: x}
    """)
    view = apply(execution(), decide(s, execution(), NOW))
    assert view.state == State.PAUSED
    assert view.taskruns[0].state == State.PAUSED
    assert view.taskruns[0].wake_at == NOW + timedelta(seconds=1)
    view = apply(view, decide(s, view, NOW + timedelta(seconds=1)))
    assert view.taskruns[0].state == State.FAILED
    assert view.state == State.FAILED


def _pause_flow(options: str) -> str:
    return f"""
        id: f
        namespace: t
        tasks:
          - id: wait
            type: pause
            {options}
          - {{id: after, type: return, format: x}}
    """


def _expire(options: str) -> ExecutionView:
    s = spec(_pause_flow(options))
    view = apply(execution(), decide(s, execution(), NOW))
    assert view.state == State.PAUSED and view.taskruns[0].wake_at is not None
    return apply(view, decide(s, view, view.taskruns[0].wake_at))


def test_a_pause_with_a_delay_resumes_by_itself_when_due() -> None:
    view = _expire("delay: PT5S")
    assert view.state == State.RUNNING
    assert [(r.task_id, r.state) for r in view.taskruns] == [("wait", State.SUCCESS), ("after", State.CREATED)]


def test_pause_duration_behaviours_when_nobody_resumes() -> None:
    resumed = _expire("pauseDuration: PT1H")
    assert resumed.taskruns[0].state == State.SUCCESS
    warned = _expire("pauseDuration: PT1H\n            behavior: WARN")
    assert warned.taskruns[0].state == State.WARNING
    assert [r.task_id for r in warned.taskruns] == ["wait", "after"]
    cancelled = _expire("pauseDuration: PT1H\n            behavior: CANCEL")
    assert cancelled.taskruns[0].state == State.CANCELLED
    assert cancelled.state == State.CANCELLED
    failed = _expire("pauseDuration: PT1H\n            behavior: FAIL")
    assert failed.taskruns[0].state == State.FAILED and failed.state == State.FAILED


def test_a_pause_is_not_resumed_before_its_timer() -> None:
    s = spec(_pause_flow("delay: PT5S"))
    view = apply(execution(), decide(s, execution(), NOW))
    assert decide(s, view, NOW + timedelta(seconds=4)) == []


def test_pause_durations_written_as_expressions_are_rendered_when_the_pause_starts() -> None:
    for options, inputs, after in [
        ('delay: "{{ inputs.wait }}"', {"wait": "pt5s"}, timedelta(seconds=5)),
        ('pauseDuration: "{{ inputs.wait }}"', {"wait": "P1DT1H"}, timedelta(days=1, hours=1)),
        ('timeout: "{{ inputs.wait }}"', {"wait": "90"}, timedelta(seconds=90)),
    ]:
        s = spec(_pause_flow(options))
        view = apply(execution(**inputs), decide(s, execution(**inputs), NOW))
        assert view.taskruns[0].state == State.PAUSED, options
        assert view.taskruns[0].wake_at == NOW + after, options


def test_a_pause_delay_that_does_not_render_to_a_duration_fails_the_pause_with_the_reason() -> None:
    s = spec(_pause_flow('delay: "{{ inputs.wait }}"'))
    decisions = decide(s, execution(wait="soon"), NOW)
    view = apply(execution(wait="soon"), decisions)
    assert view.taskruns[0].state == State.FAILED
    assert view.state == State.FAILED
    assert LogLine(taskrun_id=view.taskruns[0].id, level="ERROR", message=(
        "Invalid delay '{{ inputs.wait }}': it rendered to 'soon', which is not a duration (expected ISO-8601 "
        "such as PT30S, PT15M or P2DT3H, or a number of seconds)")) in decisions


# --- allowFailure and allowWarning on flowable tasks ------------------------------------------
def _block(options: str, child_state: State) -> ExecutionView:
    """A sequential block ``seq`` (with ``options``) whose one child ends ``child_state``,
    then a task ``after``; the execution once decided again."""
    s = spec(f"""
        id: f
        namespace: t
        tasks:
          - id: seq
            type: sequential
            {options}
            tasks:
              - {{id: child, type: return, format: x}}
          - {{id: after, type: return, format: y}}
    """)
    view = apply(execution(), decide(s, execution(), NOW))
    finish(view, "child", child_state)
    view = apply(view, decide(s, view, NOW))
    if any(r.task_id == "after" for r in view.taskruns):
        finish(view, "after")
        view = apply(view, decide(s, view, NOW))
    return view


def _state(view: ExecutionView, task_id: str) -> State:
    return next(r.state for r in view.taskruns if r.task_id == task_id)


def test_allow_warning_ends_a_flowable_task_run_that_warned_in_success() -> None:
    warned = _block("allowWarning: true", State.WARNING)
    assert (_state(warned, "seq"), warned.state) == (State.SUCCESS, State.SUCCESS)
    plain = _block("", State.WARNING)
    assert (_state(plain, "seq"), plain.state) == (State.WARNING, State.WARNING)


def test_allow_failure_ends_a_failed_flowable_task_run_in_warning_and_lets_the_flow_go_on() -> None:
    view = _block("allowFailure: true", State.FAILED)
    assert (_state(view, "seq"), _state(view, "after"), view.state) == (State.WARNING, State.SUCCESS, State.WARNING)


def test_allow_failure_with_allow_warning_ends_a_failed_flowable_task_run_in_success() -> None:
    view = _block("allowFailure: true\n            allowWarning: true", State.FAILED)
    assert (_state(view, "seq"), view.state) == (State.SUCCESS, State.SUCCESS)


def test_allow_warning_does_not_hide_a_failure() -> None:
    view = _block("allowWarning: true", State.FAILED)
    assert (_state(view, "seq"), view.state) == (State.FAILED, State.FAILED)


def test_a_pause_that_ends_in_warning_by_its_behavior_is_allowed_to_warn() -> None:
    view = _expire("pauseDuration: PT1H\n            behavior: WARN\n            allowWarning: true")
    assert view.taskruns[0].state == State.SUCCESS


def test_a_child_that_ended_outside_the_worker_counts_as_tolerated_for_its_block() -> None:
    # A task run a lost worker left FAILED, or a broken runIf: its block tolerates it.
    s = spec("""
        id: f
        namespace: t
        tasks:
          - {id: a, type: return, format: x, allowFailure: true, allowWarning: true}
          - {id: b, type: return, format: y}
    """)
    view = apply(execution(), decide(s, execution(), NOW))
    finish(view, "a", State.FAILED)
    view = apply(view, decide(s, view, NOW))
    assert [(r.task_id, r.state) for r in view.taskruns] == [("a", State.FAILED), ("b", State.CREATED)]


# --- subflows ---------------------------------------------------------------------------------
CALL = """
id: f
namespace: t
tasks:
  - id: call
    type: subflow
    namespace: t
    flowId: "{{ inputs.target }}"
    retry: {type: constant, interval: PT10S, maxAttempt: 2}
  - {id: after, type: return, format: x}
"""


def test_a_subflow_attempt_names_its_child_before_starting_it() -> None:
    decisions = decide(spec(CALL), execution(target="child"), NOW)
    update = next(d for d in decisions if isinstance(d, UpdateTaskRun))
    start = next(d for d in decisions if isinstance(d, StartSubflow))
    # The apply layer records a failure to start on a meta that already names the child.
    assert decisions.index(update) < decisions.index(start)
    assert update.meta == {"child_id": start.execution_id}
    assert update.attempts == [{"state": "RUNNING", "startDate": NOW.isoformat(), "executionId": start.execution_id}]
    assert (start.namespace, start.flow_id) == ("t", "child")


def test_a_subflow_that_could_not_start_is_retried_with_a_new_child_then_fails() -> None:
    s = spec(CALL)
    view = apply(execution(target="missing"), decide(s, execution(target="missing"), NOW))
    call = view.taskruns[0]
    first_child = call.meta["child_id"]
    call.meta = {**call.meta, "start_error": "Cannot start subflow t.missing: No flow t.missing"}
    view = apply(view, decide(s, view, NOW))
    assert call.state == State.RETRYING and call.wake_at == NOW + timedelta(seconds=10)
    assert [a["state"] for a in call.attempts] == ["FAILED"]
    assert decide(s, view, NOW + timedelta(seconds=9)) == []
    later = NOW + timedelta(seconds=10)
    decisions = decide(s, view, later)
    second_child = next(d for d in decisions if isinstance(d, StartSubflow)).execution_id
    assert second_child != first_child
    view = apply(view, decisions)
    call.meta = {**call.meta, "start_error": "Cannot start subflow t.missing: No flow t.missing"}
    decisions = decide(s, view, later)
    assert any(isinstance(d, LogLine) and "No flow t.missing" in d.message for d in decisions)
    view = apply(view, decisions)
    assert call.state == State.FAILED and [a["state"] for a in call.attempts] == ["FAILED", "FAILED"]
    assert view.state == State.FAILED and [r.task_id for r in view.taskruns] == ["call"]


def test_a_subflow_whose_target_does_not_render_fails_without_starting_anything() -> None:
    s = spec(CALL.replace("retry: {type: constant, interval: PT10S, maxAttempt: 2}", "description: no retry"))
    decisions = decide(s, execution(), NOW)
    assert not any(isinstance(d, StartSubflow) for d in decisions)
    assert any(isinstance(d, LogLine) and "Subflow task [call] cannot start" in d.message for d in decisions)
    assert isinstance(decisions[-1], UpdateExecution) and decisions[-1].new == State.FAILED


# --- CREATE_NEW_EXECUTION -------------------------------------------------------------------
NEW_EXECUTION = """
id: f
namespace: t
retry: {behavior: CREATE_NEW_EXECUTION, type: constant, interval: PT30S, maxAttempt: 3}
tasks:
  - id: par
    type: parallel
    tasks:
      - {id: boom, type: fail}
      - {id: slow, type: sleep, duration: PT1M}
      - id: seq
        type: sequential
        tasks:
          - {id: queued, type: return, format: x}
errors:
  - {id: on_error, type: log, message: never}
"""


def test_a_task_run_retried_as_a_new_execution_ends_the_execution_retried_at_once() -> None:
    s = spec(NEW_EXECUTION)
    view = apply(execution(), decide(s, execution(), NOW))
    runs = {r.task_id: r for r in view.taskruns}
    runs["boom"].state = State.RETRIED
    runs["boom"].meta = {"new_execution_at": (NOW + timedelta(seconds=30)).isoformat()}
    runs["slow"].state = State.RUNNING
    decisions = decide(s, view, NOW)
    view = apply(view, decisions)
    assert view.state == State.RETRIED
    assert {r.task_id: r.state for r in view.taskruns} == {
        "par": State.KILLED, "boom": State.RETRIED, "slow": State.RUNNING, "seq": State.KILLED,
        "queued": State.KILLED}
    assert [d for d in decisions if isinstance(d, RetryExecution)] == [
        RetryExecution(execution_id="e1", start_at=NOW + timedelta(seconds=30), attempt=2, chain_started=NOW)]


def test_the_execution_retrying_another_waits_for_its_start_time() -> None:
    s = spec(NEW_EXECUTION)
    start_at = NOW + timedelta(seconds=30)
    view = execution()
    view.meta = {"attempt": 2, "chain_started": NOW.isoformat(), "not_before": start_at.isoformat()}
    waiting = Decider(s, view, NOW)
    assert waiting.run() == [] and waiting.next_wake() == start_at
    started = decide(s, view, start_at)
    assert isinstance(started[0], UpdateExecution) and started[0].new == State.RUNNING


# --- expression context ---------------------------------------------------------------------
def test_dotted_label_keys_read_as_paths_and_ordinary_keys_stay_as_they_are() -> None:
    s = spec("""
        id: f
        namespace: t
        tasks:
          - {id: r, type: return, format: "{{ labels.system.correlationId }}/{{ labels.team }}"}
    """)
    view = execution()
    view.labels = {"system.correlationId": "c-1", "team": "data", "a": "1", "a.b": "2"}
    context = Decider(s, view, NOW).contexts.for_execution()
    assert context["labels"] == {"system": {"correlationId": "c-1"}, "team": "data", "a": "1"}


WORKING_DIRECTORY = """
id: f
namespace: t
tasks:
  - id: each
    type: foreach
    values: ["a"]
    tasks:
      - id: sw
        type: switch
        value: "{{ taskrun.value }}"
        cases:
          a:
            - id: wd
              type: working_directory
              tasks:
                - {id: inside, type: return, format: x}
            - id: seq
              type: sequential
              tasks:
                - {id: beside, type: return, format: x}
"""


def _run_until(s, view: ExecutionView, task_id: str) -> ExecutionView:  # type: ignore[no-untyped-def]
    for _ in range(10):
        if any(r.task_id == task_id for r in view.taskruns):
            return view
        for run in view.taskruns:
            if run.state == State.CREATED:
                finish(view, run.task_id)
        view = apply(view, decide(s, view, NOW))
    raise AssertionError(f"{task_id} never started")


def test_children_of_a_working_directory_see_it_as_worker_taskrun_and_share_its_parents() -> None:
    s = spec(WORKING_DIRECTORY)
    view = _run_until(s, apply(execution(), decide(s, execution(), NOW)), "inside")
    runs = {r.task_id: r for r in view.taskruns}
    context = Decider(s, view, NOW).context(runs["inside"])
    wd = runs["wd"]
    assert context["workerTaskrun"] == {"id": wd.id, "value": "a", "attemptsCount": 1, "startDate": NOW,
                                        "parentId": runs["sw"].id}
    assert context["taskrun"]["value"] == "a" and context["taskrun"]["parentId"] == wd.id
    # As in Kestra: the WorkingDirectory's parents (the Switch, with its outputs); the
    # ForEach has neither a value nor outputs and is left out.
    assert context["parents"] == [{"taskrun": {"value": "a"}, "outputs": {"value": "a", "defaults": False}}]
    assert context["parent"] == context["parents"][0]


def test_parents_are_the_ancestors_with_a_value_or_outputs_closest_first() -> None:
    s = spec(WORKING_DIRECTORY)
    view = _run_until(s, apply(execution(), decide(s, execution(), NOW)), "inside")
    runs = {r.task_id: r for r in view.taskruns}
    finish(view, "inside")
    view = _run_until(s, apply(view, decide(s, view, NOW)), "beside")
    runs = {r.task_id: r for r in view.taskruns}
    context = Decider(s, view, NOW).context(runs["beside"])
    assert "workerTaskrun" not in context
    assert context["parents"] == [
        {"taskrun": {"value": "a"}},
        {"taskrun": {"value": "a"}, "outputs": {"value": "a", "defaults": False}},
    ]
