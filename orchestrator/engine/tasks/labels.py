"""Labels: add or replace labels of the running execution."""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from pydantic import field_validator

from orchestrator.engine.durations import is_template
from orchestrator.engine.tasks.base import RunContext, RunnableTask, TaskFailed

SYSTEM_PREFIX = "system."


def labels_as_dict(value: Any) -> Any:
    """Kestra accepts labels as a map or as a list of ``{key, value}``; read both as a map."""
    if isinstance(value, list):
        result: dict[Any, Any] = {}
        for item in value:
            if not _is_pair(item):
                raise ValueError("each label of a list must be a mapping with exactly 'key' and 'value'")
            if isinstance(item["key"], (list, dict)):
                raise ValueError(f"a label's key must be text, got {type(item['key']).__name__}")
            result[item["key"]] = item["value"]
        value = result
    if isinstance(value, Mapping):
        return {k: _label_text(v) for k, v in value.items()}
    return value


def _is_pair(item: Any) -> bool:
    return isinstance(item, Mapping) and set(item) == {"key", "value"}


def _label_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def labels_from(value: dict[str, Any] | list[dict[str, Any]] | str, render: Callable[[str], str],
                render_value: Callable[[Any], Any]) -> dict[str, str]:
    """The labels ``value`` stands for now, each key and value rendered.

    A map or a list of ``{key, value}`` has each key and value rendered; a string is
    rendered, then read as JSON: an object or a list of ``{key, value}``. A value that is
    a map or a list becomes its JSON text, as in Kestra. Raises TaskFailed saying why.
    """
    if isinstance(value, str):
        pairs = _pairs(_json_labels(value, render(value)))
    else:
        items = value.items() if isinstance(value, Mapping) else ((item["key"], item["value"]) for item in value)
        pairs = [(render(str(k)), _rendered_text(k, v, render, render_value)) for k, v in items]
    labels: dict[str, str] = {}
    for key, text in pairs:
        if not key:
            raise TaskFailed("A label needs a non-empty key")
        if key.startswith(SYSTEM_PREFIX):
            raise TaskFailed(f"System labels cannot be set by a task, offending label: {key}={text}")
        labels[key] = text
    return labels


def _json_labels(template: str, rendered: str) -> Any:
    problem = "labels must render to a JSON object or a JSON list of {key, value} pairs"
    try:
        parsed = json.loads(rendered)
    except json.JSONDecodeError as exc:
        raise TaskFailed(f"{problem}, but {template!r} rendered to {_shown(rendered)}: {exc.msg}") from None
    if isinstance(parsed, dict) or (isinstance(parsed, list) and all(_is_pair(item) for item in parsed)):
        return parsed
    raise TaskFailed(f"{problem}, but {template!r} rendered to {_shown(rendered)}")


def _pairs(parsed: dict[str, Any] | list[dict[str, Any]]) -> list[tuple[str, str]]:
    items = parsed.items() if isinstance(parsed, dict) else ((item["key"], item["value"]) for item in parsed)
    return [(str(k), _text(k, v)) for k, v in items]


def _rendered_text(key: Any, value: Any, render: Callable[[str], str], render_value: Callable[[Any], Any]) -> str:
    if isinstance(value, str):
        return render(value)
    if isinstance(value, dict | list):
        return _text(key, render_value(value))
    return _text(key, value)


def _text(key: Any, value: Any) -> str:
    if value is None:
        raise TaskFailed(f"Label {key!r} has no value")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 200 else repr(text[:200]) + "..."


class Labels(RunnableTask):
    """Merge ``labels`` into the execution's labels: a map, a list of ``{key, value}``, or
    an expression that renders to either as JSON. Keys and values are rendered; a value
    that is a map becomes its JSON text. System labels (``system.*``) cannot be set."""

    short_name: ClassVar[str] = "labels"
    aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.execution.Labels",
        "io.kestra.core.tasks.executions.Labels",
    )
    example: ClassVar[str] = """\
id: label_execution
namespace: company.team
tasks:
  - id: labels
    type: io.kestra.plugin.core.execution.Labels
    labels:
      customer: Alice
      started: "{{ execution.startDate }}"
  - id: from_a_list
    type: io.kestra.plugin.core.execution.Labels
    labels:
      - key: order
        value: "{{ execution.id }}"
  - id: from_an_expression
    type: io.kestra.plugin.core.execution.Labels
    labels: '{{ {"stage": "done"} | toJson }}'
"""

    labels: dict[str, Any] | list[dict[str, Any]] | str

    @field_validator("labels", mode="before")
    @classmethod
    def _shape(cls, value: Any) -> Any:
        if not isinstance(value, dict | list | str):
            raise ValueError("labels must be a map, a list of {key, value} pairs, or an expression")
        if isinstance(value, list) and not all(_is_pair(item) for item in value):
            raise ValueError("each label of a list must be a mapping with exactly 'key' and 'value'")
        if isinstance(value, str) and not is_template(value):
            # Without an expression the text is all there is: read it now.
            try:
                _json_labels(value, value)
            except TaskFailed as exc:
                raise ValueError(str(exc)) from None
        return value

    def run(self, ctx: RunContext) -> dict[str, Any]:
        ctx.set_labels(labels_from(self.labels, ctx.render_str, ctx.render))
        return {}


TASK_TYPES = (Labels,)
