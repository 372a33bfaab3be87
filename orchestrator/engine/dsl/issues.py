"""Problems found in a flow, each at a line and column, in words a Kestra user knows."""
from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from orchestrator.engine.dsl.document import Document, Path


@dataclass(frozen=True)
class FlowIssue:
    message: str
    line: int
    column: int
    path: str
    source: str = "<flow>"
    warning: bool = False

    def format(self) -> str:
        return f"{self.source}:{self.line}:{self.column}: {self.message}"


def path_text(path: Path) -> str:
    """``tasks[3].tasks[0].message``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def issue_at(doc: Document, path: Path, message: str, source: str, *, key: bool = False,
             warning: bool = False) -> FlowIssue:
    line, column = doc.position(path, key=key)
    return FlowIssue(message, line, column, path_text(path), source, warning)


class Describer:
    """Names the flow element a path belongs to: a task, an input, a trigger or the flow."""

    def __init__(self, doc: Document, task_paths: Iterable[Path]) -> None:
        self.doc = doc
        self.task_paths = set(task_paths)

    def owner(self, path: Path) -> tuple[str, Path]:
        """(``task [t1] (type)``, the path below it) for the innermost element holding ``path``."""
        for cut in range(len(path), -1, -1):
            head = path[:cut]
            name = self._name(head)
            if name is not None:
                return name, path[cut:]
        return "flow", path

    def _name(self, head: Path) -> str | None:
        if not head:
            return "flow"
        value = self.doc.get(head)
        if not isinstance(value, Mapping):
            return None
        ident = value.get("id")
        shown = f"[{ident}]" if isinstance(ident, str) else f"at {path_text(head)}"
        if head in self.task_paths:
            type_name = value.get("type")
            return f"task {shown}" + (f" ({type_name})" if isinstance(type_name, str) else "")
        if len(head) >= 2 and isinstance(head[-1], int) and head[-2] in ("inputs", "onResume"):
            if len(head) == 2 or head[:-2] in self.task_paths:
                return f"input {shown}"
        if len(head) == 2 and isinstance(head[-1], int) and head[0] in ("triggers", "outputs"):
            return f"{head[0][:-1]} {shown}"
        return None


def validation_issues(exc: ValidationError, doc: Document, describer: Describer, source: str) -> list[FlowIssue]:
    """One issue per pydantic error; the errors of a union's branches at one place become one."""
    grouped: dict[tuple[Path, str], list[ErrorDetails]] = {}
    for error in exc.errors(include_url=False):
        path, branched = _data_path(doc, error)
        kind = error["type"]
        group = "union" if branched and kind not in ("missing", "extra_forbidden") else kind
        grouped.setdefault((path, group), []).append(error)
    issues = []
    for (path, group), errors in grouped.items():
        message = _message(path, errors, describer)
        # A missing property has no place of its own: point at the mapping that lacks it.
        at = path[:-1] if group == "missing" else path
        line, column = doc.position(at, key=group == "extra_forbidden")
        issues.append(FlowIssue(message, line, column, path_text(path), source))
    return issues


def _data_path(doc: Document, error: ErrorDetails) -> tuple[Path, bool]:
    """The error's location as a path in the document, without pydantic's union branch names."""
    node: Any = doc.data
    path: list[str | int] = []
    branched = False
    loc = error["loc"]
    for index, part in enumerate(loc):
        if isinstance(node, Mapping) and isinstance(part, str) and part in node:
            node = node[part]
            path.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            path.append(part)
        elif index == len(loc) - 1 and error["type"] == "missing":
            path.append(part)
        elif isinstance(node, Mapping) and isinstance(part, str) and error["type"] == "extra_forbidden":
            path.append(part)  # a key that came from pluginDefaults, not from the text
            node = None
        else:
            branched = True
    return tuple(path), branched


def _known_fields(parent: Any, parent_path: Path) -> list[str]:
    """The properties the mapping at ``parent_path`` may have: its task type's, or the flow's."""
    from orchestrator.engine.dsl.spec import FlowSpec
    from orchestrator.engine.tasks.registry import task_class

    model: Any = None
    if parent_path == ():
        model = FlowSpec
    elif isinstance(parent, Mapping) and isinstance(parent.get("type"), str):
        model = task_class(parent["type"])
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _did_you_mean(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _message(path: Path, errors: list[ErrorDetails], describer: Describer) -> str:
    first = errors[0]
    kind = first["type"]
    if path == ("tasks",) and (kind in ("missing", "too_short") or first.get("input") is None):
        return 'Flow must have at least one task: "tasks" is missing or empty'
    owner, below = describer.owner(path)
    prop = path_text(below)
    if kind == "missing":
        return f'Missing required property "{prop}" on {owner}'
    if kind == "extra_forbidden":
        parent = describer.doc.get(path[:-1])
        written = isinstance(parent, Mapping) and path[-1] in parent
        hint = _did_you_mean(str(path[-1]), _known_fields(parent, path[:-1])) if written else ""
        return f'Unrecognized field "{prop}" on {owner}' + (hint if written else " (set by pluginDefaults)")
    if kind.startswith("choreo_"):
        return "; ".join(dict.fromkeys(e["msg"] for e in errors))
    if kind == "string_pattern_mismatch":
        pattern = first.get("ctx", {}).get("pattern", "")
        return f"Invalid {prop or 'value'} {_shown(first.get('input'))} on {owner}: it must match {pattern}"
    if kind == "too_short" and isinstance(first.get("input"), list):
        return f'Invalid "{prop}" on {owner}: it must not be empty'
    reasons = " or ".join(dict.fromkeys(_reason(e) for e in errors))
    if not prop:
        return f"Invalid {owner}: {reasons}"
    return f'Invalid value for "{prop}" on {owner}: {reasons}'


def _reason(error: ErrorDetails) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix):]
    if error["type"] in ("string_type", "int_type", "int_parsing", "bool_type", "bool_parsing", "float_type",
                         "float_parsing", "list_type", "dict_type", "model_type", "enum", "literal_error"):
        return f"{message}, got {_shown(error.get('input'))}"
    return message


def _shown(value: Any) -> str:
    try:
        text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
