"""Which task class a ``type`` names: loaded once from settings.CHOREO_TASK_MODULES.

Each listed module exposes ``TASK_TYPES``, a tuple of Task subclasses. A class answers
to its short name, its aliases and its deprecated aliases.
"""
from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass

from orchestrator.engine.tasks.base import Task
from orchestrator.engine.tasks.builtin import BUILTIN_TASK_MODULES

DEFAULT_TASK_MODULES = BUILTIN_TASK_MODULES


@dataclass(frozen=True)
class _Registry:
    classes: tuple[type[Task], ...]
    by_name: dict[str, type[Task]]


_registry: _Registry | None = None
_lock = threading.Lock()


def task_class(type_name: str) -> type[Task] | None:
    """The class registered under ``type_name``, or None."""
    return _load().by_name.get(type_name)


def all_task_classes() -> list[type[Task]]:
    """Every registered class, in the order of the settings."""
    return list(_load().classes)


def is_deprecated_type(type_name: str) -> bool:
    """True for a deprecated class (Echo) or a deprecated alias of a current one."""
    cls = task_class(type_name)
    if cls is None:
        return False
    return cls.deprecated is not None or type_name in cls.deprecated_aliases


def type_names(cls: type[Task]) -> tuple[str, ...]:
    """Every name a class answers to, short name first."""
    return (cls.short_name, *cls.aliases, *cls.deprecated_aliases)


def _load() -> _Registry:
    global _registry
    registry = _registry
    if registry is not None:
        return registry
    with _lock:
        if _registry is None:
            _registry = _build(_module_names())
        return _registry


def _module_names() -> tuple[str, ...]:
    # Read lazily so the DSL works without configured Django settings (plain unit tests).
    try:
        from django.conf import settings

        return tuple(getattr(settings, "CHOREO_TASK_MODULES", DEFAULT_TASK_MODULES))
    except Exception:  # ImproperlyConfigured, or Django not installed
        return DEFAULT_TASK_MODULES


def _build(modules: tuple[str, ...]) -> _Registry:
    classes: list[type[Task]] = []
    by_name: dict[str, type[Task]] = {}
    for dotted in modules:
        module = importlib.import_module(dotted)
        for cls in getattr(module, "TASK_TYPES"):
            classes.append(cls)
            for name in type_names(cls):
                other = by_name.setdefault(name, cls)
                if other is not cls:
                    raise RuntimeError(f"task type name {name!r} is claimed by {other.__name__} and {cls.__name__}")
    return _Registry(tuple(classes), by_name)
