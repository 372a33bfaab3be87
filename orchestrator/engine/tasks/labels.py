"""Labels: add or replace labels of the running execution."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import field_validator

from orchestrator.engine.tasks.base import RunContext, RunnableTask


def labels_as_dict(value: Any) -> Any:
    """Kestra accepts labels as a map or as a list of ``{key, value}``; read both as a map."""
    if isinstance(value, list):
        result: dict[Any, Any] = {}
        for item in value:
            if not (isinstance(item, Mapping) and set(item) == {"key", "value"}):
                raise ValueError("each label of a list must be a mapping with exactly 'key' and 'value'")
            result[item["key"]] = item["value"]
        value = result
    if isinstance(value, Mapping):
        return {k: _label_text(v) for k, v in value.items()}
    return value


def _label_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


class Labels(RunnableTask):
    """Merge ``labels`` (rendered) into the execution's labels."""

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
"""

    labels: dict[str, str]

    @field_validator("labels", mode="before")
    @classmethod
    def _as_dict(cls, value: Any) -> Any:
        return labels_as_dict(value)

    def run(self, ctx: RunContext) -> dict[str, Any]:
        rendered = {ctx.render_str(k): ctx.render_str(v) for k, v in self.labels.items()}
        ctx.set_labels(rendered)
        return {}


TASK_TYPES = (Labels,)
