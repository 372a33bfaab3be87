"""If: run one branch or the other, on a condition."""
from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from orchestrator.engine.tasks.base import FlowableTask, Task
from orchestrator.engine.tasks.children import TaskList


class If(FlowableTask):
    """Run ``then`` when ``condition`` renders to a truthy value, else run ``else``."""

    short_name: ClassVar[str] = "if"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.flow.If", "io.kestra.core.tasks.flows.If")
    example: ClassVar[str] = """\
id: if_condition
namespace: company.team
inputs:
  - id: enabled
    type: BOOLEAN
    defaults: true
tasks:
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.enabled }}"
    then:
      - id: when_true
        type: io.kestra.plugin.core.log.Log
        message: enabled
    else:
      - id: when_false
        type: io.kestra.plugin.core.log.Log
        message: disabled
"""

    condition: str | bool
    then: TaskList = Field(min_length=1)
    else_: TaskList = Field(default_factory=list, alias="else")
    errors: TaskList = Field(default_factory=list)
    finally_: TaskList = Field(default_factory=list, alias="finally")

    def child_lists(self) -> dict[str, list[Task]]:
        return {"then": self.then, "else": self.else_, "errors": self.errors, "finally": self.finally_}


TASK_TYPES = (If,)
