"""pluginDefaults (and the older taskDefaults): default property values applied at parse time."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.engine.tasks.registry import task_class, type_names


@dataclass(frozen=True)
class Default:
    type: str
    values: Mapping[str, Any]
    forced: bool


def read_defaults(data: Mapping[str, Any]) -> list[Default]:
    """The well-formed entries of ``pluginDefaults`` then ``taskDefaults`` (the model reports the others)."""
    found: list[Default] = []
    for key in ("pluginDefaults", "taskDefaults"):
        entries = data.get(key)
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            type_name, values = entry.get("type"), entry.get("values")
            if isinstance(type_name, str) and isinstance(values, Mapping):
                found.append(Default(type_name, values, entry.get("forced") is True))
    return found


def match(default_type: str, written_type: str) -> str | None:
    """``exact`` when a default names the task's type (by any of its names), ``prefix`` when
    it names a package above it, else None."""
    cls = task_class(written_type)
    names = type_names(cls) if cls is not None else (written_type,)
    if default_type in names:
        return "exact"
    prefix = default_type.rstrip(".") + "."
    return "prefix" if any(name.startswith(prefix) for name in names) else None


def apply_defaults(task: Mapping[str, Any], defaults: list[Default]) -> dict[str, Any]:
    """``task`` with the matching defaults: missing keys filled, forced ones overriding."""
    written_type = task.get("type")
    result = dict(task)
    if not isinstance(written_type, str):
        return result
    for default in defaults:
        how = match(default.type, written_type)
        if how is None:
            continue
        values = default.values
        if how == "prefix":
            # A package-wide default (io.kestra.plugin.core) only sets properties a type has.
            known = _property_names(written_type)
            values = {k: v for k, v in values.items() if k in known}
        result = _merge(result, values) if default.forced else _merge(values, result)
    return result


def _property_names(type_name: str) -> set[str]:
    cls = task_class(type_name)
    if cls is None:
        return set()
    return {field.alias or name for name, field in cls.model_fields.items()}


def _merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``; mappings present in both are merged key by key (as Kestra does)."""
    result = dict(base)
    for key, value in top.items():
        below = result.get(key)
        if isinstance(below, Mapping) and isinstance(value, Mapping):
            result[key] = _merge(below, value)
        else:
            result[key] = value
    return result
