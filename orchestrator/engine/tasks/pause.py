"""Pause: stop the flow until resumed (by a user or the API), or a timer ends the pause."""
from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from orchestrator.engine.inputs.definitions import InputDefinition
from orchestrator.engine.durations import DynamicDuration
from orchestrator.engine.tasks.base import FlowableTask, Task
from orchestrator.engine.tasks.children import TaskList


class Pause(FlowableTask):
    """Pause the execution until it is resumed, then run the optional ``tasks``.

    ``delay`` resumes on its own after a while; ``timeout`` fails the task if nobody
    resumed it in time; ``pauseDuration`` ends the pause with ``behavior``. Values given
    on resume are checked against ``onResume`` and exposed as the ``onResume`` output.
    """

    short_name: ClassVar[str] = "pause"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.flow.Pause", "io.kestra.core.tasks.flows.Pause")
    example: ClassVar[str] = """\
id: approval
namespace: company.team
tasks:
  - id: wait_for_approval
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT1H
    behavior: CANCEL
    onResume:
      - id: approved
        type: BOOLEAN
        defaults: false
  - id: report
    type: io.kestra.plugin.core.log.Log
    message: "Approved: {{ outputs.wait_for_approval.onResume.approved }}"
"""

    delay: DynamicDuration | None = None
    pauseDuration: DynamicDuration | None = None
    behavior: Literal["RESUME", "WARN", "FAIL", "CANCEL"] = "RESUME"
    onResume: list[InputDefinition] | None = None
    tasks: TaskList = Field(default_factory=list)
    errors: TaskList = Field(default_factory=list)
    finally_: TaskList = Field(default_factory=list, alias="finally")

    def child_lists(self) -> dict[str, list[Task]]:
        return {"tasks": self.tasks, "errors": self.errors, "finally": self.finally_}


TASK_TYPES = (Pause,)
