"""Switch: run the branch whose case matches a rendered value."""
from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from orchestrator.engine.tasks.base import FlowableTask, Task
from orchestrator.engine.tasks.children import AnyTask, TaskList


class Switch(FlowableTask):
    """Render ``value``; run the tasks of the matching case, else ``defaults``."""

    short_name: ClassVar[str] = "switch"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.flow.Switch", "io.kestra.core.tasks.flows.Switch")
    example: ClassVar[str] = """\
id: switch
namespace: company.team
inputs:
  - id: color
    type: SELECT
    values: [RED, GREEN]
    defaults: RED
tasks:
  - id: by_color
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ inputs.color }}"
    cases:
      RED:
        - id: red
          type: io.kestra.plugin.core.log.Log
          message: stop
      GREEN:
        - id: green
          type: io.kestra.plugin.core.log.Log
          message: go
    defaults:
      - id: other
        type: io.kestra.plugin.core.log.Log
        message: unknown color
"""

    value: str
    cases: dict[str, list[AnyTask]] = Field(default_factory=dict)
    defaults: list[AnyTask] | None = None
    errors: TaskList = Field(default_factory=list)
    finally_: TaskList = Field(default_factory=list, alias="finally")

    @field_validator("cases", mode="before")
    @classmethod
    def _null_cases(cls, value: Any) -> Any:
        if value is None:
            return {}
        if isinstance(value, dict):
            return {k: [] if v is None else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _has_a_branch(self) -> Switch:
        if not any(self.cases.values()) and not self.defaults:
            raise PydanticCustomError(
                "choreo_switch",
                "Switch task [{id}] has no case and no defaults: add at least one branch",
                {"id": self.id},
            )
        return self

    def child_lists(self) -> dict[str, list[Task]]:
        lists: dict[str, list[Task]] = {f"cases.{key}": list(tasks) for key, tasks in self.cases.items()}
        lists["defaults"] = list(self.defaults or [])
        lists["errors"] = self.errors
        lists["finally"] = self.finally_
        return lists


TASK_TYPES = (Switch,)
