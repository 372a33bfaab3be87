"""The Labels task: a map, a list of {key, value}, or an expression rendering to either."""
from __future__ import annotations

import textwrap

import pytest

from orchestrator.engine.dsl import parse_flow
from orchestrator.engine.system_labels import without_system
from tests.helpers import Runner

FLOW = """
id: labelled
namespace: t
labels: {team: data}
inputs:
  - {id: payload, type: STRING, defaults: '{"customer": "ada", "tier": 2}'}
tasks:
  - id: tag
    type: labels
    labels: {labels}
"""


def _flow(labels: str) -> str:
    return FLOW.replace("{labels}", labels)


def test_labels_given_as_a_map_are_rendered_and_merged(runner: Runner) -> None:
    exe = runner.run(_flow("""
      stage: "{{ 'prod' | upper }}"
      attempt: 2
      final: true
      meta: {by: "{{ flow.id }}"}"""))
    assert exe.state == "SUCCESS"
    assert without_system(exe.labels) == {"team": "data", "stage": "PROD", "attempt": "2", "final": "true",
                          "meta": '{"by":"labelled"}'}


def test_labels_given_as_a_list_of_key_value_pairs_are_rendered_and_merged(runner: Runner) -> None:
    exe = runner.run(_flow("""
      - {key: "{{ 'stage' }}", value: "{{ 'prod' | upper }}"}
      - {key: team, value: platform}"""))
    assert exe.state == "SUCCESS"
    assert without_system(exe.labels) == {"team": "platform", "stage": "PROD"}


@pytest.mark.parametrize("expression", [
    "'{{ inputs.payload }}'",
    """'{{ [{"key": "customer", "value": "ada"}, {"key": "tier", "value": 2}] | toJson }}'""",
])
def test_labels_given_as_an_expression_render_to_a_json_map_or_list(runner: Runner, expression: str) -> None:
    exe = runner.run(_flow(expression))
    assert exe.state == "SUCCESS", runner.messages(exe)
    assert without_system(exe.labels) == {"team": "data", "customer": "ada", "tier": "2"}


def test_an_expression_that_renders_to_something_else_fails_the_task_with_the_reason(runner: Runner) -> None:
    exe = runner.run(_flow("'{{ inputs.payload }}'"), {"payload": "customer=ada"})
    assert exe.state == "FAILED"
    assert runner.messages(exe) == [
        "labels must render to a JSON object or a JSON list of {key, value} pairs, but '{{ inputs.payload }}' "
        "rendered to 'customer=ada': Expecting value"
    ]
    assert without_system(exe.labels) == {"team": "data"}


def test_a_task_cannot_set_a_system_label(runner: Runner) -> None:
    exe = runner.run(_flow("{system.readOnly: 'true'}"))
    assert exe.state == "FAILED"
    assert runner.messages(exe) == ["System labels cannot be set by a task, offending label: system.readOnly=true"]


@pytest.mark.parametrize(("labels", "fragment"), [
    ("[{key: a}]", "each label of a list must be a mapping with exactly 'key' and 'value'"),
    ("'stage=prod'", "labels must render to a JSON object or a JSON list of {key, value} pairs"),
    ("'[1, 2]'", "labels must render to a JSON object or a JSON list of {key, value} pairs"),
    ("42", "labels must be a map, a list of {key, value} pairs, or an expression"),
])
def test_labels_that_can_never_be_read_are_refused_when_the_flow_is_validated(labels: str, fragment: str) -> None:
    result = parse_flow(textwrap.dedent(_flow(labels)))
    assert [e.line for e in result.errors] == [10]
    assert fragment in result.errors[0].message
