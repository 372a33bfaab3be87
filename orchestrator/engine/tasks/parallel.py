"""Parallel: run child tasks at the same time."""
from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from orchestrator.engine.numbers import Int32
from orchestrator.engine.tasks.base import FlowableTask, Task
from orchestrator.engine.tasks.children import TaskList


class Parallel(FlowableTask):
    """Run ``tasks`` at the same time, at most ``concurrent`` at once (0: no limit)."""

    short_name: ClassVar[str] = "parallel"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.flow.Parallel", "io.kestra.core.tasks.flows.Parallel")
    example: ClassVar[str] = """\
id: parallel
namespace: company.team
tasks:
  - id: fan_out
    type: io.kestra.plugin.core.flow.Parallel
    concurrent: 2
    tasks:
      - id: a
        type: io.kestra.plugin.core.log.Log
        message: a
      - id: b
        type: io.kestra.plugin.core.log.Log
        message: b
      - id: c
        type: io.kestra.plugin.core.log.Log
        message: c
"""

    tasks: TaskList = Field(min_length=1)
    concurrent: Int32 = Field(default=0, ge=0)
    errors: TaskList = Field(default_factory=list)
    finally_: TaskList = Field(default_factory=list, alias="finally")

    def child_lists(self) -> dict[str, list[Task]]:
        return {"tasks": self.tasks, "errors": self.errors, "finally": self.finally_}


TASK_TYPES = (Parallel,)
