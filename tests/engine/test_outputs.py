"""Flow outputs of every type, with the values Kestra gives them."""
from __future__ import annotations

import textwrap
from typing import Any

import pytest

from orchestrator.engine.dsl import parse_flow
from orchestrator.engine.executor import LogLine, UpdateExecution, decide
from orchestrator.engine.states import State
from tests.engine.test_decide import NOW, apply, execution, finish, spec

TASK_OUTPUTS = {
    "value": "x", "count": 3, "text": "12", "ratio": "0.25", "flag": "TRUE", "items": ["a", "b"],
    "uri": "choreo://t/f/e1/r/1/out.csv", "body": {"a": [1, True]},
}


def outputs_of(*definitions: str) -> tuple[State, dict[str, Any] | None, list[str]]:
    """Run a flow whose task ``r`` returns TASK_OUTPUTS; the execution's end state,
    its outputs and the messages it logged."""
    listed = "\n".join(f"  - {d}" for d in definitions)
    s = spec(f"id: f\nnamespace: t\ntasks:\n  - {{id: r, type: return, format: x}}\noutputs:\n{listed}\n")
    view = apply(execution(), decide(s, execution(), NOW))
    finish(view, "r", outputs=dict(TASK_OUTPUTS))
    decisions = decide(s, view, NOW)
    end = next(d for d in decisions if isinstance(d, UpdateExecution))
    return end.new, end.outputs, [d.message for d in decisions if isinstance(d, LogLine)]


@pytest.mark.parametrize(("definition", "expected"), [
    ('{id: o, type: STRING, value: "{{ outputs.r.value }}"}', "x"),
    ('{id: o, type: STRING, value: "{{ outputs.r.body }}"}', '{"a":[1,true]}'),
    ("{id: o, type: STRING, value: 42}", "42"),
    ('{id: o, type: INT, value: "{{ outputs.r.count }}"}', 3),
    ('{id: o, type: INT, value: "{{ outputs.r.text }}"}', 12),
    ('{id: o, type: FLOAT, value: "{{ outputs.r.ratio }}"}', 0.25),
    ('{id: o, type: FLOAT, value: "{{ outputs.r.count }}"}', 3.0),
    ('{id: o, type: BOOLEAN, value: "{{ outputs.r.count > 2 }}"}', True),
    ('{id: o, type: BOOLEAN, value: "{{ outputs.r.flag }}"}', True),
    ('{id: o, type: DATETIME, value: "2024-01-31T10:00:00+02:00"}', "2024-01-31T08:00:00Z"),
    ('{id: o, type: DATE, value: "{{ \'2024-02-29\' }}"}', "2024-02-29"),
    ('{id: o, type: TIME, value: "13:45"}', "13:45:00"),
    ('{id: o, type: DURATION, value: "PT1M30S"}', 90.0),
    ('{id: o, type: DURATION, value: "{{ \'pt0.5s\' }}"}', 0.5),
    ('{id: o, type: JSON, value: "{{ outputs.r.body }}"}', {"a": [1, True]}),
    ("{id: o, type: JSON, value: '{\"n\": [1, 2]}'}", {"n": [1, 2]}),
    ('{id: o, type: ARRAY, value: ["{{ outputs.r.value }}", b, 3]}', ["x", "b", 3]),
    ("{id: o, type: ARRAY, value: '[\"{{ outputs.r.value }}\", \"b\"]'}", ["x", "b"]),
    ('{id: o, type: ARRAY, value: "{{ outputs.r.items }}"}', ["a", "b"]),
    ('{id: o, type: URI, value: "https://example.com/{{ outputs.r.value }}"}', "https://example.com/x"),
    ('{id: o, type: FILE, value: "{{ outputs.r.uri }}"}', "choreo://t/f/e1/r/1/out.csv"),
    ('{id: o, type: SELECT, value: "{{ outputs.r.value }}"}', "x"),
])
def test_each_output_type_gives_the_value_kestra_gives(definition: str, expected: Any) -> None:
    state, outputs, _ = outputs_of(definition)
    assert state == State.SUCCESS
    assert outputs == {"o": expected}


def test_an_array_output_is_a_yaml_list_of_templates_without_an_item_type() -> None:
    result = parse_flow(textwrap.dedent("""\
        id: f
        namespace: t
        tasks: [{id: r, type: return, format: x}]
        outputs:
          - id: pair
            type: ARRAY
            value:
              - "{{ outputs.r.value }}"
              - "{{ flow.id }}"
        """))
    assert result.ok, [e.format() for e in result.errors]


def test_a_required_output_that_does_not_fit_its_type_fails_the_execution() -> None:
    state, outputs, messages = outputs_of('{id: n, type: INT, value: "{{ outputs.r.value }}"}',
                                          '{id: d, type: DURATION, value: "{{ outputs.r.text }}"}')
    assert state == State.FAILED and outputs is None
    assert messages == ["Failed to render the flow outputs: Invalid output 'n': expected an integer, got 'x'; "
                        "Invalid output 'd': invalid duration '12': expected ISO-8601 such as PT30S, PT15M or P2DT3H"]


def test_an_optional_output_that_cannot_render_is_left_empty_with_a_warning() -> None:
    state, outputs, messages = outputs_of('{id: gone, type: STRING, value: "{{ outputs.nope.value }}", required: false}',
                                          '{id: kept, type: INT, value: "{{ outputs.r.count }}"}')
    assert state == State.SUCCESS
    assert outputs == {"gone": None, "kept": 3}
    assert len(messages) == 1 and messages[0].startswith("Failed to render the optional flow output 'gone'")


def test_a_required_output_that_cannot_render_fails_the_execution() -> None:
    state, outputs, messages = outputs_of('{id: gone, type: STRING, value: "{{ outputs.nope.value }}"}')
    assert state == State.FAILED and outputs is None
    assert messages[0].startswith("Failed to render the flow outputs: Unable to render '{{ outputs.nope.value }}'")


@pytest.mark.parametrize(("definition", "message"), [
    ("{id: n, type: INT, value: abc}", "Output [n]: invalid value: expected an integer, got 'abc'"),
    ("{id: d, type: DURATION, value: P1W}", "Output [d]: invalid value: invalid duration 'P1W'"),
    ("{id: f, type: FILE, value: /tmp/out.csv}", "Output [f]: invalid value: expected the URI of a stored file"),
    ("{id: v, type: STRING, value: null}", "Output [v]: an output needs a value"),
    ("{id: a, type: ARRAY, value: [x], itemType: STRING}", 'Unrecognized field "itemType" on output [a]'),
])
def test_an_output_that_can_never_fit_is_refused_when_the_flow_is_validated(definition: str, message: str) -> None:
    result = parse_flow(f"id: f\nnamespace: t\ntasks: [{{id: r, type: return, format: x}}]\noutputs:\n  - {definition}\n")
    assert [e.line for e in result.errors] == [5]
    assert result.errors[0].message.startswith(message), result.errors[0].message
