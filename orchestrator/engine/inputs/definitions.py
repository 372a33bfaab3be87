"""Flow inputs (and Pause ``onResume`` inputs): their definitions, and resolving given values."""
from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

import regex
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from orchestrator.engine.inputs.coercion import bound, coerce

INPUT_ID_PATTERN = r"^[a-zA-Z0-9][.a-zA-Z0-9_-]*$"


class InputType(str, Enum):
    STRING = "STRING"
    INT = "INT"
    FLOAT = "FLOAT"
    BOOLEAN = "BOOLEAN"
    BOOL = "BOOL"
    DATETIME = "DATETIME"
    DATE = "DATE"
    TIME = "TIME"
    DURATION = "DURATION"
    JSON = "JSON"
    YAML = "YAML"
    ARRAY = "ARRAY"
    SELECT = "SELECT"
    ENUM = "ENUM"
    MULTISELECT = "MULTISELECT"
    SECRET = "SECRET"
    URI = "URI"
    EMAIL = "EMAIL"
    FILE = "FILE"

    @property
    def canonical(self) -> str:
        """The type whose rules apply: BOOL is BOOLEAN, ENUM (Kestra's old name) is SELECT."""
        return {"BOOL": "BOOLEAN", "ENUM": "SELECT"}.get(self.value, self.value)

    def __str__(self) -> str:
        return self.value


_BOUNDED = ("INT", "FLOAT", "DURATION")
_DATED = ("DATETIME", "DATE", "TIME")


class InputDefinition(BaseModel):
    """One input of a flow (or of a Pause's ``onResume``): its type, default and checks."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, coerce_numbers_to_str=True)

    id: str = Field(pattern=INPUT_ID_PATTERN, max_length=100)
    type: InputType
    description: str | None = None
    displayName: str | None = None
    required: bool = True
    defaults: Any = None
    prefill: Any = None
    validator: str | None = None
    min: Any = None
    max: Any = None
    after: Any = None
    before: Any = None
    itemType: InputType | None = None
    values: list[str] | None = None
    options: list[str] | None = None
    allowCustomValue: bool = False
    autoSelectFirst: bool = False
    expression: str | None = None
    dependsOn: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _legacy_name(cls, data: Any) -> Any:
        # Kestra before 0.15 named inputs with ``name``; the parser warns about it.
        if isinstance(data, Mapping) and "name" in data and "id" not in data:
            data = {("id" if k == "name" else k): v for k, v in data.items()}
        return data

    @field_validator("type", "itemType", mode="before")
    @classmethod
    def _known_type(cls, value: Any) -> Any:
        if value is not None and not (isinstance(value, str) and value in InputType.__members__):
            names = ", ".join(sorted(InputType.__members__))
            raise ValueError(f"unknown input type {value!r}: expected one of {names}")
        return value

    @property
    def choices(self) -> list[str]:
        return list(self.values or self.options or [])

    @model_validator(mode="after")
    def _consistent(self) -> InputDefinition:
        # Defaults are checked against a well-formed definition only (an invalid validator
        # would otherwise be reported again through each default).
        errors = self._shape_errors() or self._default_errors()
        if errors:
            raise ValidationError.from_exception_data("InputDefinition", [
                InitErrorDetails(type=PydanticCustomError("choreo_input", message), loc=loc, input=None)
                for loc, message in errors
            ])
        return self

    def _shape_errors(self) -> list[tuple[tuple[str, ...], str]]:
        kind = self.type.canonical
        name = f"Input [{self.id}]"
        errors: list[tuple[tuple[str, ...], str]] = []
        if self.itemType is not None and kind != "ARRAY":
            errors.append((("itemType",), f"{name}: itemType is only allowed on ARRAY inputs, not {kind}"))
        if kind == "ARRAY" and self.itemType is None:
            errors.append(((), f"{name}: an ARRAY input needs an itemType (STRING, INT, ...)"))
        if self.itemType is not None and self.itemType.canonical in ("ARRAY", "FILE", "MULTISELECT"):
            errors.append((("itemType",), f"{name}: itemType cannot be {self.itemType.value}"))
        if kind in ("SELECT", "MULTISELECT") and not self.choices and self.expression is None:
            errors.append(((), f"{name}: a {self.type.value} input needs a non-empty list of values"))
        if kind == "FILE" and self.defaults is not None:
            errors.append((("defaults",), f"{name}: a FILE input cannot have defaults"))
        # An ARRAY's validators apply to each item, so they follow the item type.
        checked = self.itemType.canonical if kind == "ARRAY" and self.itemType is not None else kind
        if self.validator is not None:
            if checked not in ("STRING", "SECRET"):
                errors.append((("validator",), f"{name}: validator is only allowed on STRING and SECRET inputs"))
            else:
                try:
                    regex.compile(self.validator)
                except regex.error as exc:
                    errors.append((("validator",), f"{name}: validator is not a valid regular expression: {exc}"))
        for key in ("min", "max", "after", "before"):
            raw = getattr(self, key)
            if raw is None:
                continue
            allowed = _BOUNDED if key in ("min", "max") else _DATED
            if checked not in allowed:
                errors.append(((key,), f"{name}: {key} is only allowed on {', '.join(allowed)} inputs"))
                continue
            try:
                bound(checked, raw)
            except ValueError as exc:
                errors.append(((key,), f"{name}: invalid {key}: {exc}"))
        return errors

    def _default_errors(self) -> list[tuple[tuple[str, ...], str]]:
        if self.defaults is None or self.type.canonical == "FILE" or _is_template(self.defaults):
            return []
        try:
            coerce(self, self.defaults)
        except ValueError as exc:
            return [(("defaults",), f"Input [{self.id}]: invalid defaults: {exc}")]
        return []


def _is_template(value: Any) -> bool:
    # Kestra renders defaults such as "{{ now() }}" at execution time; they cannot be checked here.
    return isinstance(value, str) and ("{{" in value or "{%" in value)


class InputError(Exception):
    """Given input values that do not fit their definitions; ``messages`` names each input."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def resolve_inputs(
    definitions: list[InputDefinition], given: Mapping[str, Any], *, for_resume: bool = False
) -> dict[str, Any]:
    """The typed value of every defined input, from ``given`` or the defaults.

    Values not defined are ignored, as in Kestra. A missing optional input is None.
    Every problem is collected; one InputError lists them all. ``for_resume`` words the
    messages for a Pause's ``onResume`` inputs; the rules are the same.
    """
    kind = "resume input" if for_resume else "input"
    result: dict[str, Any] = {}
    messages: list[str] = []
    for definition in definitions:
        value = given.get(definition.id)
        if _absent(definition, value):
            value = definition.defaults
        if value is None:
            if definition.required:
                messages.append(f"Missing required {kind} '{definition.id}'")
            result[definition.id] = None
            continue
        if _is_template(value) and value is definition.defaults:
            result[definition.id] = value
            continue
        try:
            result[definition.id] = coerce(definition, value)
        except ValueError as exc:
            messages.append(f"Invalid {kind} '{definition.id}': {exc}")
    if messages:
        raise InputError(messages)
    return result


def _absent(definition: InputDefinition, value: Any) -> bool:
    # A form or a command line sends "" for a field left empty: only text inputs keep it.
    return value is None or (value == "" and definition.type.canonical not in ("STRING", "SECRET"))
