"""Flow outputs: their definitions, and the typed value a rendered output becomes.

The types follow Kestra's flow outputs (FlowInputOutput.parseType, then its JSON
mapper): text types give text; INT, FLOAT and BOOLEAN give numbers and booleans;
DATETIME, DATE and TIME give ISO-8601 text; DURATION gives a number of seconds, as
Kestra stores a Duration; JSON and YAML give the parsed value; ARRAY (Kestra's outputs
have no itemType) gives the list as rendered, or parses a JSON array; URI and FILE
give the URI.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from orchestrator.engine.inputs.coercion import coerce, shown
from orchestrator.engine.inputs.definitions import INPUT_ID_PATTERN, InputDefinition, InputType
from orchestrator.engine.durations import is_template, parse_iso_duration

# Kestra gives these as the rendered text (current.toString()), without checking choices.
_TEXT = ("STRING", "SELECT", "EMAIL", "SECRET")
_LISTS = ("ARRAY", "MULTISELECT")


class OutputDefinition(BaseModel):
    """A flow output: ``value`` is rendered once the execution succeeded, then typed.

    A required output that cannot be rendered fails the execution; an optional one is
    skipped (None) with a warning, as in Kestra.
    """

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    id: str = Field(pattern=INPUT_ID_PATTERN, max_length=100)
    type: InputType = InputType.STRING
    value: Any
    description: str | None = None
    displayName: str | None = None
    required: bool = True

    @property
    def renders_as_text(self) -> bool:
        """True when a template renders to text; other types keep a lone ``{{ expr }}``'s value."""
        return self.type.canonical in _TEXT

    @model_validator(mode="after")
    def _literal_value_fits(self) -> OutputDefinition:
        # A value without an expression is known now: check it as the flow is validated.
        problem = None
        if self.value is None:
            problem = "an output needs a value"
        elif not _has_template(self.value):
            try:
                output_value(self, self.value)
            except ValueError as exc:
                problem = f"invalid value: {exc}"
        if problem is not None:
            error = PydanticCustomError("choreo_output", "Output [{id}]: {problem}", {"id": self.id, "problem": problem})
            raise ValidationError.from_exception_data(
                "OutputDefinition", [InitErrorDetails(type=error, loc=("value",), input=self.value)]
            )
        return self


class OutputError(Exception):
    """Rendered outputs that do not fit their types; ``messages`` names each output."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def typed_outputs(definitions: list[OutputDefinition], rendered: Mapping[str, Any]) -> dict[str, Any]:
    """Every output's rendered value as a value of its type. An optional output without a
    value is None; every other problem is collected into one OutputError."""
    result: dict[str, Any] = {}
    messages: list[str] = []
    for definition in definitions:
        value = rendered.get(definition.id)
        if value is None and not definition.required:
            result[definition.id] = None
            continue
        try:
            result[definition.id] = output_value(definition, value)
        except ValueError as exc:
            messages.append(f"Invalid output '{definition.id}': {exc}")
    if messages:
        raise OutputError(messages)
    return result


def output_value(definition: OutputDefinition, value: Any) -> Any:
    """The value of ``definition``'s type for a rendered ``value``; ValueError if none."""
    kind = definition.type.canonical
    if value is None:
        raise ValueError("it has no value")
    if kind in _TEXT:
        return _text(value)
    if kind == "DURATION":
        # Kestra reads it with Duration.parse, then its JSON mapper writes a Duration as
        # seconds (WRITE_DURATIONS_AS_TIMESTAMPS): PT1M30S is 90.0.
        if not isinstance(value, str):
            raise ValueError(f"expected an ISO-8601 duration such as PT15M, got {shown(value)}")
        return parse_iso_duration(value).total_seconds()
    if kind == "FILE":
        # The executor cannot read a worker's local path: a file output is a stored file.
        if not isinstance(value, str) or "://" not in value:
            raise ValueError(f"expected the URI of a stored file, such as outputs.task.uri, got {shown(value)}")
        return value
    if kind in _LISTS:
        kind_type = InputType.ARRAY
    else:
        kind_type = definition.type
    # No constraints (choices, itemType, bounds): an output has none, only its type.
    return coerce(InputDefinition.model_construct(id=definition.id, type=kind_type), value)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return str(value)


def _has_template(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_template(k) or _has_template(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_template(item) for item in value)
    return is_template(value)
