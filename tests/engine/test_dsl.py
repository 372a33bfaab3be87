"""The flow language: Kestra's conformance flows, positions, every error at once, defaults."""
from __future__ import annotations

import re
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.engine.dsl import FlowIssue, ParseResult, parse_flow
from orchestrator.engine.tasks.base import Level
from orchestrator.engine.tasks.dag import Dag
from orchestrator.engine.tasks.log import Log
from orchestrator.engine.tasks.registry import all_task_classes, is_deprecated_type, task_class
from orchestrator.engine.tasks.return_ import Return
from orchestrator.engine.tasks.sequential import Sequential

CONFORMANCE = Path("/work/shared/conformance/kestra")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "flows"


def parse(text: str, **kwargs: object) -> ParseResult:
    return parse_flow(textwrap.dedent(text), "test.yaml", **kwargs)  # type: ignore[arg-type]


def ok(text: str) -> ParseResult:
    result = parse(text)
    assert result.ok and result.flow is not None, [e.format() for e in result.errors]
    return result


def only_error(text: str) -> FlowIssue:
    result = parse(text)
    assert len(result.errors) == 1, [e.format() for e in result.errors]
    assert result.flow is None
    return result.errors[0]


def _conformance_files(kind: str) -> list[Path]:
    folder = CONFORMANCE / "flows" / kind
    return sorted(folder.glob("*.y*ml")) if folder.exists() else []


def _conformance_invalid_cases() -> list[tuple[str, str]]:
    cases = CONFORMANCE / "cases.yaml"
    if not cases.exists():
        return []
    return [(c["invalid"], c["error"]) for c in yaml.safe_load(cases.read_text())["invalid"]]


# --- Kestra conformance -------------------------------------------------------------------
@pytest.mark.parametrize("path", _conformance_files("valids"), ids=lambda p: p.name)
def test_every_conformance_valid_flow_parses(path: Path) -> None:
    result = parse_flow(path.read_text(), path.name)
    assert result.errors == [] and result.flow is not None


@pytest.mark.parametrize(("path", "expected"), _conformance_invalid_cases(), ids=lambda v: str(v))
def test_every_conformance_invalid_flow_gives_its_error(path: str, expected: str) -> None:
    result = parse_flow((CONFORMANCE / path).read_text(), path)
    assert result.flow is None
    assert any(expected in e.message for e in result.errors), [e.format() for e in result.errors]


def test_the_conformance_duplicate_flow_names_all_duplicated_ids_in_kestras_words() -> None:
    result = parse_flow((CONFORMANCE / "flows/invalids/duplicate.yaml").read_text())
    messages = [e.message for e in result.errors]
    assert "Duplicate task id with name [date, listen]" in messages
    assert "Duplicate trigger id with name [trigger]" in messages


def test_every_unknown_type_is_reported_in_tasks_errors_and_listeners() -> None:
    result = parse_flow((CONFORMANCE / "flows/invalids/invalid-task.yaml").read_text())
    assert [e.message for e in result.errors] == [
        f"Invalid type: io.kestra.plugin.core.debug.{name}" for name in ("MissingOne", "MissingTwo", "MissingThree")
    ]


def test_the_invalid_ids_flow_reports_id_namespace_and_the_task_missing_its_id() -> None:
    result = parse_flow((CONFORMANCE / "flows/invalids/invalid.yaml").read_text())
    assert [(e.line, e.column) for e in result.errors] == [(1, 5), (2, 12), (4, 3)]
    assert "id 'my#flow'" in result.errors[0].message
    assert "namespace 'MY$NAMESPACE'" in result.errors[1].message
    assert result.errors[2].message.startswith('Missing required property "id"')


# --- fixtures -----------------------------------------------------------------------------
@pytest.mark.parametrize("path", sorted((FIXTURES / "valid").glob("*.yaml")), ids=lambda p: p.name)
def test_valid_fixture_parses(path: Path) -> None:
    result = parse_flow(path.read_text(), path.name)
    assert result.errors == [] and result.flow is not None


@pytest.mark.parametrize("path", sorted((FIXTURES / "invalid").glob("*.yaml")), ids=lambda p: p.name)
def test_invalid_fixture_gives_the_error_its_first_line_states(path: Path) -> None:
    text = path.read_text()
    stated = re.match(r"# error: (\d+):(\d+): (.+)\n", text)
    assert stated, f"{path.name} must start with '# error: LINE:COL: substring'"
    line, column, fragment = int(stated[1]), int(stated[2]), stated[3]
    result = parse_flow(text, path.name)
    assert result.flow is None
    assert any(fragment in e.message and (e.line, e.column) == (line, column) for e in result.errors), [
        e.format() for e in result.errors
    ]


# --- positions ------------------------------------------------------------------------------
def test_an_unknown_property_is_reported_at_its_key() -> None:
    error = only_error("""\
        id: f
        namespace: n
        tasks:
          - id: t
            type: io.kestra.plugin.core.debug.Return
            format: x
            colour: blue
        """)
    assert (error.line, error.column) == (7, 5)
    assert error.message == 'Unrecognized field "colour" on task [t] (io.kestra.plugin.core.debug.Return)'
    assert error.path == "tasks[0].colour"
    assert error.format() == 'test.yaml:7:5: Unrecognized field "colour" on task [t] (io.kestra.plugin.core.debug.Return)'


def test_a_missing_property_is_reported_at_the_mapping_that_lacks_it() -> None:
    error = only_error("""\
        id: f
        namespace: n
        tasks:
          - id: wait
            type: io.kestra.plugin.core.flow.Sleep
        """)
    assert (error.line, error.column, error.path) == (4, 5, "tasks[0].duration")
    assert error.message == 'Missing required property "duration" on task [wait] (io.kestra.plugin.core.flow.Sleep)'


def test_an_error_deep_in_the_tree_keeps_its_full_location() -> None:
    error = only_error("""\
        id: f
        namespace: n
        tasks:
          - id: outer
            type: sequential
            tasks:
              - id: inner
                type: parallel
                tasks:
                  - id: ok
                    type: log
                    message: fine
                  - id: bad
                    type: log
                    message: {not: text}
        """)
    assert error.path == "tasks[0].tasks[0].tasks[1].message"
    assert (error.line, error.column) == (15, 22)
    assert "task [bad] (log)" in error.message


def test_all_errors_are_reported_at_once_in_document_order() -> None:
    result = parse("""\
        id: f
        namespace: n
        tasks:
          - id: a
            type: log
            message: x
            timeout: soon
          - id: b
            type: log
          - id: c
            type: nowhere
        """)
    assert [(e.line, e.column) for e in result.errors] == [(7, 14), (8, 5), (11, 11)]
    assert "invalid duration 'soon'" in result.errors[0].message
    assert 'Missing required property "message"' in result.errors[1].message
    assert result.errors[2].message == "Invalid type: nowhere"


def test_a_duplicate_yaml_key_is_reported_at_the_second_key() -> None:
    error = only_error("""\
        id: f
        namespace: n
        tasks:
          - id: a
            type: log
            message: x
            message: y
        """)
    assert (error.line, error.column, error.message) == (7, 5, "Duplicate key 'message'")


def test_a_yaml_syntax_error_gives_one_issue_at_the_problem() -> None:
    error = only_error("""\
        id: f
        namespace: n
        tasks:
          - id: a
            type: log
           message: x
        """)
    assert error.message.startswith("Invalid YAML: ")
    assert (error.line, error.column) == (6, 4)


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "The flow is empty"),
    ("# only a comment\n", "The flow is empty"),
    ("- a\n- b\n", "must be a YAML mapping"),
    ("just text\n", "must be a YAML mapping"),
    ("a: 1\n---\nb: 2\n", "expected a single document"),
    ("id: !!binary aGVsbG8=\n", "Unsupported YAML tag"),
])
def test_documents_that_are_not_a_flow_mapping_are_refused(text: str, fragment: str) -> None:
    result = parse_flow(text)
    assert result.flow is None and any(fragment in e.message for e in result.errors)


def test_yaml_anchors_and_merge_keys_work_and_written_keys_win() -> None:
    flow = ok("""\
        id: f
        namespace: n
        variables:
          base: &log {type: log, message: shared, level: WARN}
        tasks:
          - <<: *log
            id: a
          - <<: *log
            id: b
            message: own
        """).flow
    assert flow is not None
    a, b = flow.tasks
    assert isinstance(a, Log) and isinstance(b, Log)
    assert (a.message, a.level, b.message) == ("shared", Level.WARN, "own")


# --- the typed tree --------------------------------------------------------------------------
def test_children_are_instances_of_the_concrete_registered_classes() -> None:
    flow = ok("""\
        id: f
        namespace: n
        tasks:
          - id: seq
            type: io.kestra.core.tasks.flows.Sequential
            tasks:
              - {id: r, type: return, format: "{{ task.id }}"}
            finally:
              - {id: l, type: io.kestra.plugin.core.log.Log, message: done}
        """).flow
    assert flow is not None
    seq = flow.tasks[0]
    assert isinstance(seq, Sequential) and seq.is_flowable
    assert isinstance(seq.tasks[0], Return) and isinstance(seq.finally_[0], Log)
    assert seq.child_lists() == {"tasks": seq.tasks, "errors": [], "finally": seq.finally_}
    dumped = flow.model_dump(by_alias=True, exclude_defaults=True)
    assert dumped["tasks"][0]["finally"][0]["message"] == "done"


def test_walk_tasks_and_task_lookup_cover_the_whole_tree() -> None:
    flow = ok("""\
        id: f
        namespace: n
        listeners:
          - tasks: [{id: heard, type: log, message: x}]
        tasks:
          - id: dag
            type: dag
            tasks:
              - task: {id: d1, type: log, message: x}
              - task: {id: d2, type: log, message: x}
                dependsOn: [d1]
          - id: sw
            type: switch
            value: x
            cases:
              A: [{id: ca, type: log, message: x}]
            defaults: [{id: cd, type: log, message: x}]
        errors: [{id: err, type: log, message: x}]
        finally: [{id: fin, type: log, message: x}]
        """).flow
    assert flow is not None
    assert [t.id for t in flow.walk_tasks()] == ["dag", "d1", "d2", "sw", "ca", "cd", "err", "fin", "heard"]
    assert isinstance(flow.task("dag"), Dag) and flow.task("heard").id == "heard"
    assert list(flow.task("sw").child_lists()) == ["cases.A", "defaults", "errors", "finally"]
    assert flow.uid == "n.f"
    with pytest.raises(KeyError):
        flow.task("nope")


def test_labels_may_be_a_map_or_a_list_and_become_strings() -> None:
    flow = ok("""\
        id: f
        namespace: n
        labels:
          - {key: team, value: data}
          - {key: size, value: 3}
        tasks: [{id: a, type: log, message: x}]
        """).flow
    assert flow is not None and flow.labels == {"team": "data", "size": "3"}


def test_system_labels_other_than_read_only_are_refused() -> None:
    error = only_error("""\
        id: f
        namespace: n
        labels: {system.readOnly: "true", system.username: me}
        tasks: [{id: a, type: log, message: x}]
        """)
    assert "system.username" in error.message


def test_retry_accepts_kestras_max_attempts_and_its_older_behavior_names() -> None:
    flow = ok("""\
        id: f
        namespace: n
        retry: {type: constant, interval: PT1S, maxAttempt: 2, behavior: NEW_EXECUTION}
        tasks:
          - id: a
            type: fail
            retry: {type: constant, interval: PT1S, maxAttempts: 3, behavior: RETRY_FAILED}
        """).flow
    assert flow is not None and flow.retry is not None
    assert (flow.retry.maxAttempt, flow.retry.behavior) == (2, "CREATE_NEW_EXECUTION")
    task_retry = flow.task("a").retry
    assert task_retry is not None and (task_retry.maxAttempt, task_retry.behavior) == (3, "RETRY_FAILED_TASK")


def test_a_subflow_calling_its_own_flow_is_recursive_and_an_unknown_one_gets_a_warning() -> None:
    error = only_error("""\
        id: me
        namespace: n
        tasks: [{id: s, type: subflow, namespace: n, flowId: me}]
        """)
    assert error.message == "Recursive call to flow [n.me]"
    result = parse("""\
        id: me
        namespace: n
        tasks: [{id: s, type: subflow, namespace: n, flowId: other}]
        """, known_flows=lambda namespace, flow_id: False)
    assert result.ok and [w.message for w in result.warnings] == [
        "Subflow task [s] calls flow [n.other], which is not deployed"
    ]


# --- semantic checks ---------------------------------------------------------------------------
def test_a_dag_cycle_names_the_tasks_in_it() -> None:
    error = only_error("""\
        id: f
        namespace: n
        tasks:
          - id: dag
            type: dag
            tasks:
              - {task: {id: a, type: log, message: x}, dependsOn: [c]}
              - {task: {id: b, type: log, message: x}, dependsOn: [a]}
              - {task: {id: c, type: log, message: x}, dependsOn: [b]}
        """)
    assert error.message == "Dag task [dag] has a dependency cycle: a -> c -> b -> a"


def test_a_switch_without_any_branch_names_its_id() -> None:
    error = only_error("""\
        id: f
        namespace: n
        tasks:
          - {id: lonely, type: switch, value: x, cases: {}, defaults: null}
        """)
    assert error.message == "Switch task [lonely] has no case and no defaults: add at least one branch"


@pytest.mark.parametrize(("cron", "extra", "valid"), [
    ("0 * * * *", "", True),
    ("@hourly", "", True),
    ("@daily", "", True),
    ("*/5 * * * * *", "withSeconds: true", True),
    ("* * * *", "", False),
    ("0 0 31 2 7 7", "", False),
    ("61 * * * *", "", False),
    ("*/5 * * * *", "withSeconds: true", False),
    ("every day", "", False),
])
def test_schedule_crons_are_checked(cron: str, extra: str, valid: bool) -> None:
    result = parse_flow(
        f"id: f\nnamespace: n\ntasks: [{{id: a, type: log, message: x}}]\n"
        f"triggers:\n  - id: t\n    type: schedule\n    cron: '{cron}'\n    {extra}\n"
    )
    assert result.ok is valid, [e.format() for e in result.errors]
    if not valid:
        assert result.errors[0].message.startswith(f"Invalid cron expression '{cron}' on trigger [t]")
        assert (result.errors[0].line, result.errors[0].column) == (7, 11)


@pytest.mark.parametrize(("where", "snippet"), [
    ("task timeout", "timeout: PT1 H"),
    ("retry interval", "retry: {type: constant, interval: 5s, maxAttempt: 2}"),
    ("months", "timeout: P1M"),
])
def test_bad_durations_are_refused_wherever_they_appear(where: str, snippet: str) -> None:
    error = only_error(f"id: f\nnamespace: n\ntasks:\n  - id: a\n    type: log\n    message: x\n    {snippet}\n")
    assert "duration" in error.message and error.line == 7


def test_durations_read_as_javas_duration_parse_and_kestras_numbers_of_seconds() -> None:
    flow = ok("""\
        id: f
        namespace: n
        retry: {type: constant, interval: PT0.25s, maxDuration: 60, maxAttempt: 3}
        tasks:
          - id: wait
            type: pause
            delay: P2DT3H4M
            timeout: pt1m
          - id: nap
            type: sleep
            duration: "1.5"
            retry: {type: random, minInterval: -PT1S, maxInterval: "PT1,5S"}
        """).flow
    assert flow is not None
    wait, nap = flow.tasks
    assert wait.delay == timedelta(days=2, hours=3, minutes=4)  # type: ignore[attr-defined]
    assert wait.timeout == timedelta(minutes=1)
    assert flow.retry is not None and flow.retry.interval == timedelta(milliseconds=250)
    assert flow.retry.maxDuration == timedelta(seconds=60)
    assert nap.duration == timedelta(seconds=1.5)  # type: ignore[attr-defined]
    assert nap.retry is not None and nap.retry.minInterval == timedelta(seconds=-1)
    assert nap.retry.maxInterval == timedelta(seconds=1.5)


def test_a_duration_written_as_an_expression_is_kept_for_run_time() -> None:
    flow = ok("""\
        id: f
        namespace: n
        tasks:
          - id: wait
            type: pause
            delay: "{{ inputs.delay }}"
            pauseDuration: "{{ vars.grace }}"
            timeout: "{{ inputs.limit }}"
            retry: {type: constant, interval: "{{ vars.every }}", maxAttempt: 2}
        """).flow
    assert flow is not None
    wait = flow.tasks[0]
    assert (wait.delay, wait.pauseDuration, wait.timeout) == (  # type: ignore[attr-defined]
        "{{ inputs.delay }}", "{{ vars.grace }}", "{{ inputs.limit }}")
    assert wait.retry is not None and wait.retry.interval == "{{ vars.every }}"


def test_a_bad_literal_duration_names_its_property_path() -> None:
    error = only_error("""\
        id: f
        namespace: n
        tasks:
          - id: a
            type: log
            message: x
            retry: {type: constant, interval: P1W, maxAttempt: 2}
        """)
    assert error.message.startswith(
        'Invalid value for "retry.interval" on task [a] (log): invalid duration \'P1W\'')
    assert "write days, such as P14D" in error.message
    assert (error.line, error.column, error.path) == (7, 39, "tasks[0].retry.interval")


@pytest.mark.parametrize(("timeout", "shown"), [("PT0S", "'PT0S'"), ("-PT1M", "'-PT1M'"), ("0", "0")])
def test_a_timeout_must_be_positive(timeout: str, shown: str) -> None:
    error = only_error(f"id: f\nnamespace: n\ntasks:\n  - id: a\n    type: log\n    message: x\n    timeout: {timeout}\n")
    assert error.message == f'Invalid value for "timeout" on task [a] (log): a timeout must be positive, got {shown}'


# --- deprecations and defaults -------------------------------------------------------------------
def test_deprecated_forms_parse_with_warnings() -> None:
    result = ok("""\
        id: f
        namespace: n
        inputs:
          - name: legacy
            type: STRING
        taskDefaults:
          - type: log
            values: {level: WARN}
        listeners:
          - tasks: [{id: heard, type: log, message: x}]
        tasks:
          - {id: e, type: io.kestra.core.tasks.debugs.Echo, format: hi}
          - id: each
            type: io.kestra.plugin.core.flow.EachSequential
            value: '["a"]'
            tasks: [{id: inner, type: io.kestra.plugin.core.flow.Flow, namespace: n, flowId: other}]
        """)
    assert all(w.warning for w in result.warnings)
    messages = " | ".join(w.message for w in result.warnings)
    for fragment in ('"name" is deprecated', '"taskDefaults" is deprecated', '"listeners" are deprecated',
                     "io.kestra.core.tasks.debugs.Echo is deprecated", "EachSequential is deprecated",
                     "io.kestra.plugin.core.flow.Flow is deprecated"):
        assert fragment in messages
    assert result.flow is not None and result.flow.inputs[0].id == "legacy"


def test_old_kestra_names_are_plain_aliases_not_deprecated() -> None:
    result = ok("""\
        id: f
        namespace: n
        tasks:
          - {id: a, type: io.kestra.core.tasks.log.Log, message: x}
          - {id: b, type: io.kestra.core.tasks.flows.Sequential, tasks: [{id: c, type: return, format: y}]}
        """)
    assert result.warnings == []
    assert not is_deprecated_type("io.kestra.core.tasks.log.Log")
    assert is_deprecated_type("io.kestra.plugin.core.debug.Echo")


def test_plugin_defaults_fill_missing_properties_and_forced_ones_override() -> None:
    flow = ok("""\
        id: f
        namespace: n
        pluginDefaults:
          - type: io.kestra.plugin.core.log
            values: {message: from prefix, level: ERROR}
          - type: io.kestra.plugin.core.debug.Return
            forced: true
            values: {format: forced}
        tasks:
          - {id: short, type: log}
          - {id: own, type: io.kestra.core.tasks.log.Log, message: mine}
          - {id: r, type: return, format: ignored}
        """).flow
    assert flow is not None
    short, own, ret = flow.tasks
    assert isinstance(short, Log) and isinstance(own, Log) and isinstance(ret, Return)
    assert (short.message, short.level) == ("from prefix", Level.ERROR)
    assert (own.message, own.level) == ("mine", Level.ERROR)
    assert ret.format == "forced"


def test_a_package_wide_default_only_sets_properties_a_type_has() -> None:
    flow = ok("""\
        id: f
        namespace: n
        pluginDefaults:
          - type: io.kestra.plugin.core
            values: {message: everywhere, concurrent: 2}
        tasks:
          - id: p
            type: parallel
            tasks: [{id: l, type: log}]
        """).flow
    assert flow is not None
    parallel = flow.tasks[0]
    assert getattr(parallel, "concurrent") == 2 and getattr(flow.task("l"), "message") == "everywhere"


def test_task_defaults_of_the_conformance_logs_flow_do_not_override_written_messages() -> None:
    flow = parse_flow((CONFORMANCE / "flows/valids/logs.yaml").read_text()).flow
    assert flow is not None
    t5 = flow.task("t5")
    assert isinstance(t5, Log) and t5.message == ["five first", "five second"]


# --- every task type ------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", all_task_classes(), ids=lambda c: c.__name__)
def test_each_task_types_example_parses_and_uses_it(cls: type) -> None:
    result = parse_flow(cls.example, f"{cls.__name__} example")
    assert result.errors == [] and result.flow is not None
    assert any(type(t) is cls for t in result.flow.walk_tasks())
    assert cls.__doc__ and task_class(cls.short_name) is cls
    assert all(task_class(alias) is cls for alias in cls.aliases)


# --- robustness --------------------------------------------------------------------------------
_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                     st.text(max_size=12), st.sampled_from(["log", "sequential", "dag", "PT1S", "{{ x }}"]))
_keys = st.one_of(st.sampled_from(["id", "namespace", "tasks", "type", "message", "errors", "finally",
                                   "inputs", "triggers", "cases", "task", "dependsOn", "values", "labels",
                                   "pluginDefaults", "cron", "defaults"]), st.text(max_size=8))
_trees = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(_keys, inner, max_size=5)), max_leaves=30)


_tokens = st.sampled_from([
    "id: ", "namespace: ", "tasks:", "type: ", "log", "dag", "message: ", "- ", "\n", "  ", "\t", ":", "[", "]",
    "{", "}", ",", "'", '"', "#", "&a ", "*a", "<<: ", "!!str ", "!x ", "|", ">", "%", "@", "?", "---", "~", "1",
])


@settings(deadline=None, max_examples=200)
@given(st.lists(st.one_of(_tokens, st.text(max_size=3)), max_size=40).map("".join))
def test_random_text_never_raises(text: str) -> None:
    assert isinstance(parse_flow(text), ParseResult)


@settings(deadline=None, max_examples=200)
@given(_trees, st.sampled_from(["log", "sequential", "parallel", "switch", "dag", "pause", "subflow", "foreach"]))
def test_random_structures_never_raise(tree: object, task_type: str) -> None:
    flow = {"id": "f", "namespace": "n", "tasks": [{"id": "t", "type": task_type, "tasks": tree, "x": tree}]}
    for document in (tree, flow):
        result = parse_flow(yaml.safe_dump(document))
        assert isinstance(result, ParseResult)
        assert (result.flow is None) == bool(result.errors)


# --- WorkingDirectory -----------------------------------------------------------------------
def test_a_working_directory_refuses_each_flowable_child_at_its_place() -> None:
    result = parse("""\
        id: f
        namespace: n
        tasks:
          - id: workspace
            type: io.kestra.plugin.core.flow.WorkingDirectory
            tasks:
              - {id: wait, type: io.kestra.plugin.core.flow.Pause, delay: PT1S}
              - {id: write, type: io.kestra.plugin.scripts.shell.Commands, commands: [echo hi]}
              - id: branch
                type: if
                condition: "{{ true }}"
                then: [{id: t, type: log, message: x}]
        """)
    assert [(e.message, e.line, e.column, e.path) for e in result.errors] == [
        ("Only runnable tasks are allowed as children of a WorkingDirectory task", 7, 9, "tasks[0].tasks[0]"),
        ("Only runnable tasks are allowed as children of a WorkingDirectory task", 9, 9, "tasks[0].tasks[2]"),
    ]


def test_a_working_directorys_errors_and_finally_may_hold_flowable_tasks() -> None:
    ok("""\
        id: f
        namespace: n
        tasks:
          - id: workspace
            type: working_directory
            tasks:
              - {id: write, type: shell, commands: [echo hi]}
            errors:
              - id: alert
                type: sequential
                tasks: [{id: a, type: log, message: failed}]
            finally:
              - id: cleanup
                type: parallel
                tasks: [{id: c, type: log, message: done}]
        """)
