"""WorkingDirectory: child tasks that share one folder."""
from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from orchestrator.engine.tasks.base import FlowableTask, Task
from orchestrator.engine.tasks.children import TaskList


class WorkingDirectory(FlowableTask):
    """Run ``tasks`` one after another in one shared folder: a file a script task writes
    there is seen by the next one. ``errors`` and ``finally`` run as in Sequential."""

    short_name: ClassVar[str] = "working_directory"
    aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.WorkingDirectory",
        "io.kestra.core.tasks.flows.WorkingDirectory",
    )
    shares_working_dir: ClassVar[bool] = True
    example: ClassVar[str] = """\
id: working_directory
namespace: company.team
tasks:
  - id: workspace
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: write
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo "hello" > greeting.txt
      - id: read
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - cat greeting.txt
"""

    tasks: TaskList = Field(min_length=1)
    errors: TaskList = Field(default_factory=list)
    finally_: TaskList = Field(default_factory=list, alias="finally")

    def child_lists(self) -> dict[str, list[Task]]:
        return {"tasks": self.tasks, "errors": self.errors, "finally": self.finally_}


TASK_TYPES = (WorkingDirectory,)
