"""The JSON Schema of a flow document, for editors: built from FlowSpec and the task registry."""
from __future__ import annotations

import inspect
from typing import Any

from orchestrator.engine.dsl.spec import FlowSpec
from orchestrator.engine.dsl.triggers import TRIGGER_TYPES
from orchestrator.engine.tasks.base import Task
from orchestrator.engine.tasks.children import TASK_SCHEMA_PLACEHOLDER
from orchestrator.engine.tasks.registry import all_task_classes, type_names

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_REF = "#/$defs/{model}"


def flow_json_schema() -> dict[str, Any]:
    """The schema of a whole flow; deterministic (sorted) so it can be diffed and cached."""
    flow = FlowSpec.model_json_schema(ref_template=_REF, by_alias=True)
    _allow_label_lists(flow)
    defs: dict[str, Any] = flow.pop("$defs", {})
    branches = []
    for cls in sorted(all_task_classes(), key=lambda c: c.short_name):
        name = f"task.{cls.short_name}"
        defs[name] = _task_schema(cls, defs)
        branches.append({"$ref": _REF.format(model=name)})
    defs["Task"] = {"oneOf": branches, "description": "A task; its type chooses which properties apply."}
    _accept_retry_aliases(defs)
    trigger = defs.get("TriggerSpec")
    if trigger is not None:
        names = sorted(name for kind, aliases in TRIGGER_TYPES.items() for name in (kind, *aliases))
        trigger["properties"]["type"] = {"type": "string", "enum": names, "title": "Type"}
    schema = {
        "$schema": SCHEMA_DIALECT,
        "$id": "https://choreo.dev/schemas/flow.json",
        "title": "Choreo flow",
        **flow,
        "$defs": defs,
    }
    return _sorted(_resolve_placeholders(schema))


def _task_schema(cls: type[Task], defs: dict[str, Any]) -> dict[str, Any]:
    schema = cls.model_json_schema(ref_template=_REF, by_alias=True)
    for key, value in schema.pop("$defs", {}).items():
        defs.setdefault(key, value)
    schema["properties"]["type"] = {"type": "string", "enum": sorted(type_names(cls)), "title": "Type"}
    schema["title"] = cls.__name__
    schema["description"] = inspect.cleandoc(cls.__doc__ or cls.__name__)
    if cls.example:
        schema["examples"] = [cls.example]
    if cls.deprecated:
        schema["deprecated"] = True
    _allow_label_lists(schema)
    return schema


def _allow_label_lists(schema: dict[str, Any]) -> None:
    """Labels validate as a map or as Kestra's list of ``{key, value}``; say so to editors."""
    labels = schema.get("properties", {}).get("labels")
    if labels is not None:
        schema["properties"]["labels"] = {"title": "Labels", "anyOf": [
            {"type": "object", "additionalProperties": {"type": "string"}},
            {"type": "array", "items": {
                "type": "object", "required": ["key", "value"], "additionalProperties": False,
                "properties": {"key": {"type": "string"}, "value": {"type": "string"}},
            }},
        ]}


def _accept_retry_aliases(defs: dict[str, Any]) -> None:
    """``retry.maxAttempts`` (Kestra's current name) validates as ``maxAttempt``; say so to editors."""
    retry = defs.get("RetryPolicy")
    if retry is not None and "maxAttempt" in retry.get("properties", {}):
        alias = dict(retry["properties"]["maxAttempt"])
        alias["title"] = "Maxattempts"
        alias["description"] = "Same as maxAttempt (Kestra's current name)."
        retry["properties"]["maxAttempts"] = alias
        retry["properties"]["behavior"]["enum"] = [
            "RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION", "RETRY_FAILED", "NEW_EXECUTION"]


def _resolve_placeholders(value: Any) -> Any:
    if isinstance(value, dict) and TASK_SCHEMA_PLACEHOLDER.items() <= value.items():
        return {"$ref": _REF.format(model="Task")}
    if isinstance(value, dict):
        return {key: _resolve_placeholders(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve_placeholders(item) for item in value]
    return value


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value
