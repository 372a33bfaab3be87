"""Checks across the whole flow that one model cannot make: duplicate ids, recursion,
reserved labels, what a WorkingDirectory may hold, and deprecation warnings.

They read the YAML values (not the validated models) so they still run, and report,
when other parts of the flow are invalid.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from orchestrator.engine.dsl.document import Document, Path
from orchestrator.engine.dsl.issues import FlowIssue, issue_at
from orchestrator.engine.tasks.base import FlowableTask, Task
from orchestrator.engine.tasks.registry import is_deprecated_type, task_class

ALLOWED_SYSTEM_LABELS = frozenset({"system.readOnly"})


class FlowChecks:
    def __init__(self, doc: Document, task_paths: list[Path], source: str) -> None:
        self.doc = doc
        self.task_paths = sorted(task_paths, key=doc.position)
        self.source = source
        self.errors: list[FlowIssue] = []
        self.warnings: list[FlowIssue] = []
        top = doc.data if isinstance(doc.data, Mapping) else {}
        self.top: Mapping[str, Any] = top

    def run(self, known_flows: Callable[[str, str], bool] | None) -> None:
        self.duplicate_task_ids()
        self.duplicate_ids(("triggers",), "trigger")
        self.duplicate_ids(("inputs",), "input")
        for path in self.task_paths:
            if isinstance(self.doc.get((*path, "onResume")), list):
                self.duplicate_ids((*path, "onResume"), "input")
        self.subflows(known_flows)
        self.working_directories()
        self.labels()
        self.deprecations()

    def _error(self, path: Path, message: str, *, key: bool = False) -> None:
        self.errors.append(issue_at(self.doc, path, message, self.source, key=key))

    def _warn(self, path: Path, message: str, *, key: bool = False) -> None:
        self.warnings.append(issue_at(self.doc, path, message, self.source, key=key, warning=True))

    def _ident(self, path: Path) -> str | None:
        value = self.doc.get(path)
        if isinstance(value, Mapping):
            ident = value.get("id", value.get("name"))
            return ident if isinstance(ident, str) else None
        return None

    def duplicate_task_ids(self) -> None:
        self._report_duplicates([(path, self._ident(path)) for path in self.task_paths], "task")

    def duplicate_ids(self, at: Path, what: str) -> None:
        items = self.doc.get(at)
        if isinstance(items, list):
            self._report_duplicates([((*at, i), self._ident((*at, i))) for i in range(len(items))], what)

    def _report_duplicates(self, items: list[tuple[Path, str | None]], what: str) -> None:
        seen: dict[str, list[Path]] = {}
        for path, ident in items:
            if ident is not None:
                seen.setdefault(ident, []).append(path)
        duplicated = sorted(name for name, paths in seen.items() if len(paths) > 1)
        if duplicated:
            second = seen[duplicated[0]][1]
            key = "id" if isinstance(self.doc.get((*second, "id")), str) else "name"
            self._error((*second, key), f"Duplicate {what} id with name [{', '.join(duplicated)}]")

    def subflows(self, known_flows: Callable[[str, str], bool] | None) -> None:
        own = (self.top.get("namespace"), self.top.get("id"))
        for path in self.task_paths:
            task = self.doc.get(path)
            cls = task_class(task["type"]) if isinstance(task.get("type"), str) else None
            if cls is None or cls.short_name != "subflow":
                continue
            target = (task.get("namespace"), task.get("flowId"))
            if not all(isinstance(part, str) for part in target):
                continue
            if target == own:
                self._error((*path, "flowId"), f"Recursive call to flow [{target[0]}.{target[1]}]")
            elif known_flows is not None and not any("{{" in str(part) for part in target):
                if not known_flows(str(target[0]), str(target[1])):
                    self._warn((*path, "flowId"), f"Subflow task [{task.get('id')}] calls flow "
                               f"[{target[0]}.{target[1]}], which is not deployed")

    def working_directories(self) -> None:
        """A WorkingDirectory's ``tasks`` run one after another in its folder, so they must be
        runnable (Kestra's rule and message). Its ``errors`` and ``finally`` may be anything:
        Kestra runs those as any block does."""
        for path in self.task_paths:
            cls = self._class_at(path)
            children = self.doc.get((*path, "tasks"))
            if cls is None or not cls.shares_working_dir or not isinstance(children, list):
                continue
            for i in range(len(children)):
                child = self._class_at((*path, "tasks", i))
                if child is not None and issubclass(child, FlowableTask):
                    self._error((*path, "tasks", i), "Only runnable tasks are allowed as children of a WorkingDirectory task")

    def _class_at(self, path: Path) -> type[Task] | None:
        task = self.doc.get(path)
        type_name = task.get("type") if isinstance(task, Mapping) else None
        return task_class(type_name) if isinstance(type_name, str) else None

    def labels(self) -> None:
        labels = self.top.get("labels")
        keys: list[tuple[Path, Any]] = []
        if isinstance(labels, Mapping):
            keys = [(("labels", name), name) for name in labels]
        elif isinstance(labels, list):
            keys = [(("labels", i, "key"), item.get("key")) for i, item in enumerate(labels) if isinstance(item, Mapping)]
        for path, name in keys:
            if isinstance(name, str) and name.startswith("system.") and name not in ALLOWED_SYSTEM_LABELS:
                self._error(path, f"Label '{name}' is reserved: the only system label a flow may set is "
                            "system.readOnly", key=isinstance(path[-1], str) and path[-1] == name)

    def deprecations(self) -> None:
        if "taskDefaults" in self.top:
            self._warn(("taskDefaults",), '"taskDefaults" is deprecated: use "pluginDefaults"', key=True)
        if "listeners" in self.top:
            self._warn(("listeners",), '"listeners" are deprecated: use a Flow trigger in another flow', key=True)
        for path in self.task_paths:
            type_name = self.doc.get((*path, "type"))
            if isinstance(type_name, str) and is_deprecated_type(type_name):
                cls = task_class(type_name)
                assert cls is not None
                advice = cls.deprecated or f"use {cls.aliases[0] if cls.aliases else cls.short_name}"
                self._warn((*path, "type"), f"Task [{self._ident(path)}]: type {type_name} is deprecated: {advice}")
        for inputs_path in [("inputs",), *((*p, "onResume") for p in self.task_paths)]:
            items = self.doc.get(inputs_path)
            for i, item in enumerate(items if isinstance(items, list) else []):
                if isinstance(item, Mapping) and "name" in item and "id" not in item:
                    self._warn((*inputs_path, i, "name"), f'Input [{item["name"]}]: "name" is deprecated: use "id"',
                               key=True)
