"""ForEach (and the deprecated EachSequential, EachParallel): run tasks once per value."""
from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field

from orchestrator.engine.numbers import Int32
from orchestrator.engine.tasks.base import FlowableTask, Task
from orchestrator.engine.tasks.children import TaskList


def _check_values(value: Any) -> Any:
    if isinstance(value, str) and "{{" not in value and "{%" not in value:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f"values must be a list or a JSON array, got {value[:200]!r}") from None
        if not isinstance(parsed, list):
            raise ValueError(f"values must be a list or a JSON array, got {value[:200]!r}")
    return value


# What a loop iterates over: a list, a JSON array text, or an expression rendering to one.
LoopValues = Annotated[str | list[Any], AfterValidator(_check_values)]


class ForEach(FlowableTask):
    """Run ``tasks`` once per value of ``values``, ``concurrencyLimit`` values at once (0: all)."""

    short_name: ClassVar[str] = "foreach"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.flow.ForEach", "io.kestra.core.tasks.flows.ForEach")
    example: ClassVar[str] = """\
id: foreach
namespace: company.team
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["alpha", "beta", "gamma"]
    concurrencyLimit: 2
    tasks:
      - id: show
        type: io.kestra.plugin.core.log.Log
        message: "{{ taskrun.value }}"
"""

    values: LoopValues
    concurrencyLimit: Int32 = Field(default=1, ge=0)
    tasks: TaskList = Field(min_length=1)
    errors: TaskList = Field(default_factory=list)
    finally_: TaskList = Field(default_factory=list, alias="finally")

    def child_lists(self) -> dict[str, list[Task]]:
        return {"tasks": self.tasks, "errors": self.errors, "finally": self.finally_}


class EachSequential(FlowableTask):
    """Run ``tasks`` once per value, one value after another (deprecated: use ForEach)."""

    short_name: ClassVar[str] = "each_sequential"
    aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.EachSequential",
        "io.kestra.core.tasks.flows.EachSequential",
    )
    deprecated: ClassVar[str | None] = "use io.kestra.plugin.core.flow.ForEach instead"
    example: ClassVar[str] = """\
id: each_sequential
namespace: company.team
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.EachSequential
    value: '["a", "b"]'
    tasks:
      - id: show
        type: io.kestra.plugin.core.log.Log
        message: "{{ taskrun.value }}"
"""

    values: LoopValues = Field(alias="value")
    tasks: TaskList = Field(min_length=1)
    errors: TaskList = Field(default_factory=list)
    finally_: TaskList = Field(default_factory=list, alias="finally")

    def child_lists(self) -> dict[str, list[Task]]:
        return {"tasks": self.tasks, "errors": self.errors, "finally": self.finally_}


class EachParallel(FlowableTask):
    """Run ``tasks`` once per value, values at the same time (deprecated: use ForEach)."""

    short_name: ClassVar[str] = "each_parallel"
    aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.EachParallel",
        "io.kestra.core.tasks.flows.EachParallel",
    )
    deprecated: ClassVar[str | None] = "use io.kestra.plugin.core.flow.ForEach with concurrencyLimit: 0 instead"
    example: ClassVar[str] = """\
id: each_parallel
namespace: company.team
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.EachParallel
    value: ["a", "b", "c"]
    concurrent: 2
    tasks:
      - id: show
        type: io.kestra.plugin.core.log.Log
        message: "{{ taskrun.value }}"
"""

    values: LoopValues = Field(alias="value")
    concurrent: Int32 = Field(default=0, ge=0)
    tasks: TaskList = Field(min_length=1)
    errors: TaskList = Field(default_factory=list)
    finally_: TaskList = Field(default_factory=list, alias="finally")

    def child_lists(self) -> dict[str, list[Task]]:
        return {"tasks": self.tasks, "errors": self.errors, "finally": self.finally_}


TASK_TYPES = (ForEach, EachSequential, EachParallel)
