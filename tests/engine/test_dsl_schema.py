"""The JSON Schema of the flow language, built from FlowSpec and the task registry."""
from __future__ import annotations

import json

from orchestrator.engine.dsl import flow_json_schema
from orchestrator.engine.tasks.registry import all_task_classes, type_names


def test_the_schema_is_deterministic() -> None:
    assert json.dumps(flow_json_schema()) == json.dumps(flow_json_schema())


def test_the_schema_describes_the_flow_document() -> None:
    schema = flow_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {"id", "namespace", "tasks"} <= set(schema["required"])
    assert schema["additionalProperties"] is False
    assert schema["properties"]["tasks"]["items"] == {"$ref": "#/$defs/Task"}
    assert schema["properties"]["finally"]["items"] == {"$ref": "#/$defs/Task"}
    assert "anyOf" in schema["properties"]["labels"]


def test_each_task_type_is_one_branch_with_its_names_docstring_and_example() -> None:
    schema = flow_json_schema()
    defs = schema["$defs"]
    branches = [b["$ref"].rsplit("/", 1)[-1] for b in defs["Task"]["oneOf"]]
    classes = sorted(all_task_classes(), key=lambda c: c.short_name)
    assert branches == [f"task.{c.short_name}" for c in classes]
    for cls in classes:
        entry = defs[f"task.{cls.short_name}"]
        assert entry["properties"]["type"]["enum"] == sorted(type_names(cls))
        assert entry["description"].split("\n")[0] in (cls.__doc__ or "")
        assert entry["examples"] == [cls.example]
        assert entry["additionalProperties"] is False
    assert defs["task.echo"]["deprecated"] is True


def test_nested_task_lists_point_back_to_the_task_union() -> None:
    defs = flow_json_schema()["$defs"]
    assert defs["task.sequential"]["properties"]["tasks"]["items"] == {"$ref": "#/$defs/Task"}
    assert defs["DagTask"]["properties"]["task"] == {"$ref": "#/$defs/Task"}
    assert "x-choreo-task" not in json.dumps(defs)


def test_trigger_types_are_listed() -> None:
    trigger = flow_json_schema()["$defs"]["TriggerSpec"]
    assert "io.kestra.plugin.core.trigger.Schedule" in trigger["properties"]["type"]["enum"]


def test_every_type_name_belongs_to_one_class_only() -> None:
    names = [name for cls in all_task_classes() for name in type_names(cls)]
    assert len(names) == len(set(names))
