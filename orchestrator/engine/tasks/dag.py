"""Dag: run child tasks as soon as the tasks they depend on are over."""
from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from orchestrator.engine.numbers import Int32
from orchestrator.engine.tasks.base import FlowableTask, Task
from orchestrator.engine.tasks.children import AnyTask, TaskList


class DagTask(BaseModel):
    """One node of a Dag: a task and the ids of the Dag's tasks it waits for."""

    model_config = ConfigDict(extra="forbid")

    task: AnyTask
    dependsOn: list[str] | None = None


class Dag(FlowableTask):
    """Run ``tasks`` in dependency order, independent ones at the same time (``concurrent``: 0 for no limit)."""

    short_name: ClassVar[str] = "dag"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.flow.Dag", "io.kestra.core.tasks.flows.Dag")
    example: ClassVar[str] = """\
id: dag
namespace: company.team
tasks:
  - id: pipeline
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: extract
          type: io.kestra.plugin.core.log.Log
          message: extract
      - task:
          id: transform
          type: io.kestra.plugin.core.log.Log
          message: transform
        dependsOn: [extract]
      - task:
          id: load
          type: io.kestra.plugin.core.log.Log
          message: load
        dependsOn: [transform]
"""

    tasks: list[DagTask] = Field(min_length=1)
    concurrent: Int32 = Field(default=0, ge=0)
    errors: TaskList = Field(default_factory=list)
    finally_: TaskList = Field(default_factory=list, alias="finally")

    @model_validator(mode="after")
    def _dependencies(self) -> Dag:
        known = {node.task.id for node in self.tasks}
        details = [
            InitErrorDetails(
                type=PydanticCustomError(
                    "choreo_dag", "Dag task [{dag}]: task [{task}] depends on unknown task [{dep}]",
                    {"dag": self.id, "task": node.task.id, "dep": dep},
                ),
                loc=("tasks", i, "dependsOn", j), input=dep,
            )
            for i, node in enumerate(self.tasks)
            for j, dep in enumerate(node.dependsOn or [])
            if dep not in known
        ]
        cycle = find_cycle({node.task.id: [d for d in node.dependsOn or [] if d in known] for node in self.tasks})
        if cycle:
            details.append(InitErrorDetails(
                type=PydanticCustomError(
                    "choreo_dag", "Dag task [{dag}] has a dependency cycle: {cycle}",
                    {"dag": self.id, "cycle": " -> ".join(cycle)},
                ),
                loc=(), input=None,
            ))
        if details:
            raise ValidationError.from_exception_data("Dag", details)
        return self

    def child_lists(self) -> dict[str, list[Task]]:
        return {"tasks": [node.task for node in self.tasks], "errors": self.errors, "finally": self.finally_}


def find_cycle(depends_on: dict[str, list[str]]) -> list[str]:
    """One cycle as a path that ends where it starts (``a -> b -> a``), or [] if none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in depends_on:
        if state.get(start):
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            node, index = stack.pop()
            if index == 0:
                state[node] = 1
                path.append(node)
            deps = depends_on.get(node, [])
            if index < len(deps):
                stack.append((node, index + 1))
                dep = deps[index]
                if state.get(dep) == 1:
                    return [*path[path.index(dep):], dep]
                if not state.get(dep):
                    stack.append((dep, 0))
            else:
                state[node] = 2
                path.pop()
    return []


TASK_TYPES = (Dag,)
