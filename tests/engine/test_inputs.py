"""Flow inputs: coercion of given values by type, defaults, required, validators, all errors at once."""
from __future__ import annotations

from typing import Any

import pytest

from orchestrator.engine.dsl import InputDefinition, InputError, parse_flow, resolve_inputs


def definition(**fields: Any) -> InputDefinition:
    return InputDefinition.model_validate({"id": "x", **fields})


def resolve_one(given: Any, **fields: Any) -> Any:
    return resolve_inputs([definition(**fields)], {"x": given})["x"]


def error_of(given: Any, **fields: Any) -> str:
    with pytest.raises(InputError) as caught:
        resolve_inputs([definition(**fields)], {"x": given})
    assert len(caught.value.messages) == 1
    return caught.value.messages[0]


@pytest.mark.parametrize(("fields", "given", "expected"), [
    ({"type": "STRING"}, "hello", "hello"),
    ({"type": "STRING"}, 12, "12"),
    ({"type": "STRING"}, True, "true"),
    ({"type": "SECRET"}, "s3cr3t", "s3cr3t"),
    ({"type": "INT"}, "12", 12),
    ({"type": "INT"}, " -3 ", -3),
    ({"type": "INT"}, 7, 7),
    ({"type": "INT"}, 2.0, 2),
    ({"type": "FLOAT"}, "1.5", 1.5),
    ({"type": "FLOAT"}, 2, 2.0),
    ({"type": "FLOAT"}, "1e3", 1000.0),
    ({"type": "BOOLEAN"}, "true", True),
    ({"type": "BOOLEAN"}, "FALSE", False),
    ({"type": "BOOLEAN"}, False, False),
    ({"type": "BOOL"}, "true", True),
    ({"type": "DATETIME"}, "2024-01-31T10:00:00+02:00", "2024-01-31T08:00:00Z"),
    ({"type": "DATETIME"}, "2024-01-31T10:00:00Z", "2024-01-31T10:00:00Z"),
    ({"type": "DATETIME"}, "2024-01-31T10:00:00.250", "2024-01-31T10:00:00.250000Z"),
    ({"type": "DATE"}, "2024-02-29", "2024-02-29"),
    ({"type": "TIME"}, "13:45", "13:45:00"),
    ({"type": "TIME"}, "13:45:30", "13:45:30"),
    ({"type": "DURATION"}, "PT90M", "PT1H30M"),
    ({"type": "DURATION"}, "P1D", "P1D"),
    ({"type": "JSON"}, '{"a": [1, true]}', {"a": [1, True]}),
    ({"type": "JSON"}, {"a": 1}, {"a": 1}),
    ({"type": "JSON"}, "12", 12),
    ({"type": "YAML"}, "a: 1\nb: [x]", {"a": 1, "b": ["x"]}),
    ({"type": "ARRAY", "itemType": "INT"}, '[1, "2"]', [1, 2]),
    ({"type": "ARRAY", "itemType": "STRING"}, ["a", "b"], ["a", "b"]),
    ({"type": "ARRAY", "itemType": "BOOLEAN"}, ["true", False], [True, False]),
    ({"type": "SELECT", "values": ["A", "B"]}, "B", "B"),
    ({"type": "SELECT", "values": ["A"], "allowCustomValue": True}, "Z", "Z"),
    ({"type": "ENUM", "values": ["A", "B"]}, "A", "A"),
    ({"type": "MULTISELECT", "values": ["a", "b", "c"]}, '["a", "c"]', ["a", "c"]),
    ({"type": "MULTISELECT", "options": ["a", "b"]}, ["b"], ["b"]),
    ({"type": "MULTISELECT", "options": ["a", "b"]}, "a", ["a"]),
    ({"type": "URI"}, "s3://bucket/key.csv", "s3://bucket/key.csv"),
    ({"type": "URI"}, "https://example.com/x?y=1", "https://example.com/x?y=1"),
    ({"type": "EMAIL"}, "ada@example.com", "ada@example.com"),
    ({"type": "FILE"}, "kestra:///ns/flow/file.csv", "kestra:///ns/flow/file.csv"),
])
def test_given_values_are_coerced_to_their_type(fields: dict[str, Any], given: Any, expected: Any) -> None:
    assert resolve_one(given, **fields) == expected


@pytest.mark.parametrize(("fields", "given", "fragment"), [
    ({"type": "STRING"}, {"a": 1}, "expected a string"),
    ({"type": "INT"}, "abc", "expected an integer, got 'abc'"),
    ({"type": "INT"}, "1.5", "expected an integer, got '1.5'"),
    ({"type": "INT"}, 1.5, "expected an integer, got 1.5"),
    ({"type": "INT"}, True, "expected an integer"),
    ({"type": "FLOAT"}, "one", "expected a number"),
    ({"type": "FLOAT"}, "nan", "expected a number"),
    ({"type": "BOOLEAN"}, "yes", "expected true or false"),
    ({"type": "BOOLEAN"}, 1, "expected true or false"),
    ({"type": "DATETIME"}, "yesterday", "expected an ISO-8601 date-time"),
    ({"type": "DATE"}, "2024-02-30", "expected a date"),
    ({"type": "TIME"}, "25:00", "expected a time"),
    ({"type": "DURATION"}, "90 minutes", "invalid duration"),
    ({"type": "JSON"}, "{", "invalid JSON"),
    ({"type": "YAML"}, "a: [", "invalid YAML"),
    ({"type": "ARRAY", "itemType": "INT"}, "[1, 2", "expected a list"),
    ({"type": "ARRAY", "itemType": "INT"}, '[1, "x"]', "item 1: expected an integer, got 'x'"),
    ({"type": "SELECT", "values": ["A", "B"]}, "C", "'C' is not one of the allowed values ['A', 'B']"),
    ({"type": "MULTISELECT", "values": ["a"]}, '["a", "z"]', "'z' not among the allowed values"),
    ({"type": "URI"}, "not a uri", "expected a URI with a scheme"),
    ({"type": "URI"}, "/no/scheme", "expected a URI with a scheme"),
    ({"type": "EMAIL"}, "ada@", "expected an email address"),
])
def test_values_that_do_not_fit_are_refused_with_the_inputs_name(
    fields: dict[str, Any], given: Any, fragment: str
) -> None:
    message = error_of(given, **fields)
    assert message.startswith("Invalid input 'x': ")
    assert fragment in message


@pytest.mark.parametrize(("fields", "good", "bad", "fragment"), [
    ({"type": "STRING", "validator": "[a-z]+"}, "abc", "abc1", "does not match the validator"),
    ({"type": "INT", "min": 1, "max": 10}, "10", "11", "must be at most 10"),
    ({"type": "INT", "min": 1, "max": 10}, 1, 0, "must be at least 1"),
    ({"type": "FLOAT", "min": 0.5}, "0.5", "0.25", "must be at least 0.5"),
    ({"type": "DURATION", "min": "PT1M", "max": "PT1H"}, "PT30M", "PT2H", "must be at most 'PT1H'"),
    ({"type": "DATETIME", "after": "2024-01-01T00:00:00Z"}, "2024-06-01T00:00:00Z", "2023-12-31T23:00:00Z",
     "must be after"),
    ({"type": "DATE", "before": "2024-12-31"}, "2024-12-31", "2025-01-01", "must be before '2024-12-31'"),
    ({"type": "TIME", "after": "08:00", "before": "18:00"}, "12:00", "19:30", "must be before"),
    ({"type": "ARRAY", "itemType": "INT", "min": 0}, "[0, 3]", "[1, -1]", "item 1: -1 must be at least 0"),
])
def test_validators_accept_in_range_values_and_refuse_others(
    fields: dict[str, Any], good: Any, bad: Any, fragment: str
) -> None:
    resolve_one(good, **fields)
    assert fragment in error_of(bad, **fields)


def test_defaults_apply_when_no_value_is_given_and_are_coerced() -> None:
    definitions = [definition(type="INT", defaults="5"), definition(id="y", type="BOOLEAN", defaults=True)]
    assert resolve_inputs(definitions, {}) == {"x": 5, "y": True}
    assert resolve_inputs(definitions, {"x": "7", "y": "false"}) == {"x": 7, "y": False}


def test_an_empty_text_counts_as_no_value_except_for_strings() -> None:
    assert resolve_inputs([definition(type="INT", defaults=3)], {"x": ""}) == {"x": 3}
    assert resolve_inputs([definition(type="STRING", defaults="d")], {"x": ""}) == {"x": ""}


def test_a_required_input_without_value_or_default_is_an_error() -> None:
    with pytest.raises(InputError) as caught:
        resolve_inputs([definition(type="STRING")], {})
    assert caught.value.messages == ["Missing required input 'x'"]


def test_an_optional_input_without_value_is_none() -> None:
    assert resolve_inputs([definition(type="STRING", required=False)], {}) == {"x": None}


def test_inputs_not_defined_are_ignored_as_kestra_does() -> None:
    assert resolve_inputs([definition(type="STRING")], {"x": "a", "other": 1}) == {"x": "a"}


def test_a_templated_default_is_kept_for_the_engine_to_render() -> None:
    assert resolve_inputs([definition(type="DATETIME", defaults="{{ now() }}")], {}) == {"x": "{{ now() }}"}


def test_every_problem_is_reported_at_once() -> None:
    definitions = [
        definition(id="n", type="INT"),
        definition(id="when", type="DATE"),
        definition(id="needed", type="STRING"),
        definition(id="fine", type="STRING"),
    ]
    with pytest.raises(InputError) as caught:
        resolve_inputs(definitions, {"n": "abc", "when": "soon", "fine": "ok"})
    assert caught.value.messages == [
        "Invalid input 'n': expected an integer, got 'abc'",
        "Invalid input 'when': expected a date such as 2024-01-31, got 'soon'",
        "Missing required input 'needed'",
    ]
    assert str(caught.value).count(";") == 2


def test_resume_inputs_follow_the_same_rules_with_their_own_wording() -> None:
    with pytest.raises(InputError) as caught:
        resolve_inputs([definition(type="INT")], {"x": "no"}, for_resume=True)
    assert caught.value.messages == ["Invalid resume input 'x': expected an integer, got 'no'"]


# --- definitions that cannot work are refused when the flow is parsed ---------------------------
def _flow_with_input(lines: str) -> list[str]:
    text = f"id: f\nnamespace: n\ninputs:\n  - id: x\n{lines}tasks: [{{id: a, type: log, message: m}}]\n"
    return [e.message for e in parse_flow(text).errors]


@pytest.mark.parametrize(("lines", "fragment"), [
    ("    type: FILE\n    defaults: a.csv\n", "a FILE input cannot have defaults"),
    ("    type: SELECT\n", "a SELECT input needs a non-empty list of values"),
    ("    type: MULTISELECT\n    values: []\n", "a MULTISELECT input needs a non-empty list of values"),
    ("    type: INT\n    defaults: many\n", "invalid defaults: expected an integer, got 'many'"),
    ("    type: STRING\n    validator: '[a-z]+'\n    defaults: ABC\n", "invalid defaults: value 'ABC' does not match"),
    ("    type: STRING\n    itemType: INT\n", "itemType is only allowed on ARRAY inputs"),
    ("    type: ARRAY\n", "an ARRAY input needs an itemType"),
    ("    type: INT\n    after: 2024-01-01\n", "after is only allowed on DATETIME, DATE, TIME inputs"),
    ("    type: DURATION\n    min: soon\n", "invalid min: invalid duration 'soon'"),
    ("    type: STRING\n    validator: '[a-'\n", "validator is not a valid regular expression"),
    ("    type: COLOR\n", "unknown input type 'COLOR'"),
])
def test_input_definitions_that_cannot_work_are_refused(lines: str, fragment: str) -> None:
    messages = _flow_with_input(lines)
    assert any(fragment in m and "[x]" in m for m in messages), messages


def test_a_default_that_fits_its_definition_is_accepted() -> None:
    assert _flow_with_input("    type: INT\n    min: 1\n    defaults: 3\n") == []
