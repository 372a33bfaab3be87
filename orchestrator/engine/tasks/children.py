"""Child tasks of flowable tasks: a task of any registered type, chosen by its ``type``.

Apart from base.py so the base classes do not depend on the registry of task types.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainValidator, SerializeAsAny, ValidationInfo, WithJsonSchema
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from orchestrator.engine.tasks.base import Task
from orchestrator.engine.tasks.registry import task_class

# The validation context key of a hook called with each raw task mapping before it is
# validated; the DSL parser uses it to apply pluginDefaults and to note where tasks are.
PREPARE_TASK = "choreo.prepare_task"


def _validate_child(value: Any, info: ValidationInfo) -> Task:
    """Validate one child task as the registered class its ``type`` names."""
    if isinstance(value, Task):
        return value
    if not isinstance(value, Mapping):
        raise PydanticCustomError(
            "choreo_task_shape", 'A task must be a mapping with "id" and "type", got {kind}',
            {"kind": type(value).__name__},
        )
    prepare: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = (info.context or {}).get(PREPARE_TASK)
    if prepare is not None:
        value = prepare(value)
    type_name = value.get("type")
    if type_name is None:
        raise _child_error(InitErrorDetails(type="missing", loc=("type",), input=value))
    cls = task_class(type_name) if isinstance(type_name, str) else None
    if cls is None:
        error = PydanticCustomError("choreo_task_type", "Invalid type: {type}", {"type": str(type_name)})
        raise _child_error(InitErrorDetails(type=error, loc=("type",), input=type_name))
    return cls.model_validate(value, context=info.context)


def _child_error(detail: InitErrorDetails) -> ValidationError:
    # A ValidationError raised in a validator keeps its own locations, below the item's.
    return ValidationError.from_exception_data("Task", [detail])


def _none_as_empty(value: Any) -> Any:
    return [] if value is None else value


# The JSON schema of a child task is a placeholder the flow schema replaces by the union
# of all registered types (pydantic would try to resolve a "$ref" it did not make).
TASK_SCHEMA_PLACEHOLDER = {"x-choreo-task": True}

# A task of any registered type, chosen by its ``type`` (short name or Kestra alias).
AnyTask = Annotated[
    SerializeAsAny[Task], PlainValidator(_validate_child), WithJsonSchema(TASK_SCHEMA_PLACEHOLDER)
]
# A list of child tasks; YAML ``null`` reads as no tasks.
TaskList = Annotated[list[AnyTask], BeforeValidator(_none_as_empty)]
