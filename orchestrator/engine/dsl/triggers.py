"""Flow triggers: Schedule (cron), Webhook and Flow (another flow's execution ended)."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from orchestrator.engine.tasks.base import ID_PATTERN

TRIGGER_TYPES: dict[str, tuple[str, ...]] = {
    "schedule": ("io.kestra.plugin.core.trigger.Schedule", "io.kestra.core.models.triggers.types.Schedule"),
    "webhook": ("io.kestra.plugin.core.trigger.Webhook", "io.kestra.core.models.triggers.types.Webhook"),
    "flow": ("io.kestra.plugin.core.trigger.Flow", "io.kestra.core.models.triggers.types.Flow"),
}
_KIND_BY_NAME = {name: kind for kind, names in TRIGGER_TYPES.items() for name in (kind, *names)}

# Kestra's (Quartz-like) nicknames, which croniter does not all know.
CRON_NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def trigger_kind(type_name: str) -> str | None:
    """``schedule``, ``webhook`` or ``flow`` for any accepted name of a trigger type."""
    return _KIND_BY_NAME.get(type_name)


def cron_expression(cron: str, with_seconds: bool = False) -> str:
    """The croniter expression of a Kestra cron (nicknames expanded); ValueError if invalid."""
    expression = CRON_NICKNAMES.get(cron.strip().lower(), cron.strip())
    fields = expression.split()
    expected = 6 if with_seconds else 5
    if len(fields) != expected:
        hint = " (withSeconds: true expects 6 fields, seconds first)" if with_seconds else ""
        raise ValueError(f"expected {expected} fields, got {len(fields)}{hint}")
    if with_seconds:
        # croniter puts the seconds field last.
        expression = " ".join([*fields[1:], fields[0]])
    try:
        croniter(expression, datetime(2024, 1, 1))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(str(exc) or "invalid field") from None
    return expression


class TriggerSpec(BaseModel):
    """A trigger; properties other than the common ones are kept as written."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(pattern=ID_PATTERN, max_length=100)
    type: str
    description: str | None = None
    disabled: bool = False
    conditions: list[dict[str, Any]] | None = None
    inputs: dict[str, Any] | None = None
    cron: str | None = None
    withSeconds: bool = False
    timezone: str | None = None
    key: str | None = None

    @property
    def kind(self) -> str:
        """``schedule``, ``webhook`` or ``flow``."""
        return _KIND_BY_NAME[self.type]

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in _KIND_BY_NAME:
            raise PydanticCustomError("choreo_trigger_type", "Invalid trigger type: {type}", {"type": value})
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r} (expected an IANA name such as Europe/Paris)") from None
        return value

    @model_validator(mode="after")
    def _per_kind(self) -> TriggerSpec:
        problems: list[tuple[tuple[str, ...], str]] = []
        kind = self.kind
        if kind == "schedule":
            if self.cron is None:
                problems.append(((), f'Missing required property "cron" on trigger [{self.id}] (Schedule)'))
            else:
                try:
                    cron_expression(self.cron, self.withSeconds)
                except ValueError as exc:
                    problems.append((("cron",), f"Invalid cron expression '{self.cron}' on trigger [{self.id}]: {exc}"))
        elif kind == "webhook" and not self.key:
            problems.append(((), f'Missing required property "key" on trigger [{self.id}] (Webhook)'))
        if problems:
            raise ValidationError.from_exception_data("Trigger", [
                InitErrorDetails(type=PydanticCustomError("choreo_trigger", message), loc=loc, input=None)
                for loc, message in problems
            ])
        return self
