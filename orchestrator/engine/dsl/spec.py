"""The typed flow: what a flow's YAML means once validated."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from orchestrator.engine.inputs.definitions import InputDefinition
from orchestrator.engine.dsl.outputs import OutputDefinition
from orchestrator.engine.dsl.triggers import TriggerSpec
from orchestrator.engine.numbers import Int32
from orchestrator.engine.tasks.base import RetryPolicy, Task
from orchestrator.engine.tasks.children import TaskList
from orchestrator.engine.tasks.labels import labels_as_dict

FLOW_ID_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$"
NAMESPACE_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"


class Listener(BaseModel):
    """Tasks run after the execution ends, when ``conditions`` match (deprecated by Kestra)."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    conditions: list[dict[str, Any]] | None = None
    tasks: TaskList = Field(min_length=1)


class Concurrency(BaseModel):
    """How many executions of the flow may run at once, and what happens to the others."""

    model_config = ConfigDict(extra="forbid")

    limit: Int32 = Field(ge=1)
    behavior: Literal["QUEUE", "CANCEL", "FAIL"] = "QUEUE"


class PluginDefault(BaseModel):
    """Default property values for every task of a type (or a type prefix)."""

    model_config = ConfigDict(extra="forbid")

    type: str
    values: dict[str, Any] = {}
    forced: bool = False


class FlowSpec(BaseModel):
    """A validated flow."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, coerce_numbers_to_str=True)

    id: str = Field(pattern=FLOW_ID_PATTERN, max_length=100)
    namespace: str = Field(pattern=NAMESPACE_PATTERN, max_length=150)
    revision: Int32 | None = Field(default=None, ge=1)
    description: str | None = None
    labels: dict[str, str] = {}
    inputs: list[InputDefinition] = []
    variables: dict[str, Any] = {}
    tasks: TaskList = Field(min_length=1)
    errors: TaskList = Field(default_factory=list)
    finally_: TaskList = Field(default_factory=list, alias="finally")
    outputs: list[OutputDefinition] = []
    triggers: list[TriggerSpec] = []
    listeners: list[Listener] = []
    concurrency: Concurrency | None = None
    retry: RetryPolicy | None = None
    disabled: bool = False
    deleted: bool = False
    pluginDefaults: list[PluginDefault] = []
    taskDefaults: list[PluginDefault] = []

    _by_id: dict[str, Task] | None = PrivateAttr(default=None)
    _parents: dict[str, Task] | None = PrivateAttr(default=None)
    # The secrets the flow's text names (set by parse_flow; see secrets.secret_names).
    _secret_names: tuple[str, ...] = PrivateAttr(default=())

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, value: Any) -> Any:
        return {} if value is None else labels_as_dict(value)

    @field_validator("inputs", "variables", "outputs", "triggers", "listeners", "pluginDefaults", "taskDefaults",
                     mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any, info: Any) -> Any:
        if value is None:
            return {} if info.field_name == "variables" else []
        return value

    @property
    def uid(self) -> str:
        return f"{self.namespace}.{self.id}"

    @property
    def secret_names(self) -> tuple[str, ...]:
        return self._secret_names

    def walk_tasks(self) -> Iterator[Task]:
        """Every task of the flow, depth first: tasks, errors, finally, then listeners' tasks."""
        for top in (*self.tasks, *self.errors, *self.finally_):
            yield from top.walk()
        for listener in self.listeners:
            for task in listener.tasks:
                yield from task.walk()

    def task(self, task_id: str) -> Task:
        """The task with this id anywhere in the flow; KeyError if there is none."""
        # Read straight from pydantic's store of private attributes: this runs several
        # times per task run on the engine's hot path, and attribute access costs more.
        by_id: dict[str, Task] | None = self.__pydantic_private__["_by_id"]  # type: ignore[index]
        if by_id is None:
            by_id = self._by_id = {task.id: task for task in self.walk_tasks()}
        return by_id[task_id]

    def parent_of(self, task_id: str) -> Task | None:
        """The task whose child lists (tasks, errors, finally, branches...) hold ``task_id``."""
        if self._parents is None:
            self._parents = {
                child.id: task
                for task in self.walk_tasks()
                for children in task.child_lists().values()
                for child in children
            }
        return self._parents.get(task_id)
