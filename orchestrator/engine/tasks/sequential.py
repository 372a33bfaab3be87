"""Sequential: run child tasks one after another."""
from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from orchestrator.engine.tasks.base import FlowableTask, Task
from orchestrator.engine.tasks.children import TaskList


class Sequential(FlowableTask):
    """Run ``tasks`` one after another; on failure run ``errors``; always run ``finally``."""

    short_name: ClassVar[str] = "sequential"
    aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.Sequential",
        "io.kestra.core.tasks.flows.Sequential",
    )
    example: ClassVar[str] = """\
id: sequential
namespace: company.team
tasks:
  - id: block
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: first
        type: io.kestra.plugin.core.log.Log
        message: first
      - id: second
        type: io.kestra.plugin.core.log.Log
        message: second
    errors:
      - id: on_error
        type: io.kestra.plugin.core.log.Log
        message: "{{ task.id }} failed"
"""

    tasks: TaskList = Field(min_length=1)
    errors: TaskList = Field(default_factory=list)
    finally_: TaskList = Field(default_factory=list, alias="finally")

    def child_lists(self) -> dict[str, list[Task]]:
        return {"tasks": self.tasks, "errors": self.errors, "finally": self.finally_}


TASK_TYPES = (Sequential,)
