"""AllowFailure: run child tasks; their failure ends this block in WARNING."""
from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from orchestrator.engine.tasks.base import FlowableTask, Task
from orchestrator.engine.tasks.children import TaskList


class AllowFailure(FlowableTask):
    """Run ``tasks`` one after another; a failure ends the block in WARNING, not FAILED."""

    short_name: ClassVar[str] = "allow_failure"
    aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.AllowFailure",
        "io.kestra.core.tasks.flows.AllowFailure",
    )
    example: ClassVar[str] = """\
id: allow_failure
namespace: company.team
tasks:
  - id: tolerant
    type: io.kestra.plugin.core.flow.AllowFailure
    tasks:
      - id: may_fail
        type: io.kestra.plugin.core.execution.Fail
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: still running
"""

    tasks: TaskList = Field(min_length=1)
    errors: TaskList = Field(default_factory=list)
    finally_: TaskList = Field(default_factory=list, alias="finally")

    def child_lists(self) -> dict[str, list[Task]]:
        return {"tasks": self.tasks, "errors": self.errors, "finally": self.finally_}


TASK_TYPES = (AllowFailure,)
