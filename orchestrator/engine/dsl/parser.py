"""parse_flow: YAML text → a validated FlowSpec, or every problem at its line and column."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from orchestrator.engine.dsl.checks import FlowChecks
from orchestrator.engine.dsl.defaults import Default, apply_defaults, read_defaults
from orchestrator.engine.dsl.document import Document, Path, load_document
from orchestrator.engine.dsl.secretnames import secret_names
from orchestrator.engine.dsl.issues import Describer, FlowIssue, issue_at, path_text, validation_issues
from orchestrator.engine.dsl.spec import FlowSpec
from orchestrator.engine.tasks.children import PREPARE_TASK


@dataclass
class ParseResult:
    flow: FlowSpec | None  # None when there are errors
    errors: list[FlowIssue] = field(default_factory=list)
    warnings: list[FlowIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class _TaskCollector:
    """The validation hook: applies plugin defaults and notes which mappings are tasks."""

    def __init__(self, defaults: list[Default]) -> None:
        self.defaults = defaults
        self.seen: dict[int, Mapping[str, Any]] = {}

    def __call__(self, task: Mapping[str, Any]) -> Mapping[str, Any]:
        # Keyed by identity: the mapping given is the very object inside the document's data.
        self.seen[id(task)] = task
        return apply_defaults(task, self.defaults) if self.defaults else task

    def paths(self, doc: Document) -> list[Path]:
        found: list[Path] = []
        stack: list[tuple[Path, Any]] = [((), doc.data)]
        while stack:
            path, value = stack.pop()
            if isinstance(value, dict):
                if id(value) in self.seen:
                    found.append(path)
                stack.extend(((*path, k), v) for k, v in value.items())
            elif isinstance(value, list):
                stack.extend(((*path, i), v) for i, v in enumerate(value))
        return found


def parse_flow(
    text: str, source: str = "<flow>", *, known_flows: Callable[[str, str], bool] | None = None
) -> ParseResult:
    """Validate a flow's YAML. Never raises for bad input: every problem is an issue.

    ``known_flows(namespace, flow_id)`` tells whether a flow exists; with it, a Subflow
    calling a flow that does not exist gets a warning.
    """
    doc, problems = load_document(text)
    errors = [FlowIssue(p.message, p.line, p.column, path_text(p.path), source) for p in problems]
    if doc is None:
        return ParseResult(None, errors)
    if not isinstance(doc.data, dict):
        kind = "a list" if isinstance(doc.data, list) else f"the value {doc.data!r}"[:80]
        errors.append(issue_at(doc, (), f"A flow must be a YAML mapping with id, namespace and tasks, got {kind}",
                               source))
        return ParseResult(None, errors)

    collector = _TaskCollector(read_defaults(doc.data))
    flow: FlowSpec | None = None
    failure: ValidationError | None = None
    try:
        flow = FlowSpec.model_validate(doc.data, context={PREPARE_TASK: collector})
    except ValidationError as exc:
        failure = exc
    task_paths = collector.paths(doc)
    if failure is not None:
        # A value YAML could not read is reported once: what the schema says of its text adds nothing.
        unreadable = {(p.line, p.column) for p in problems}
        errors.extend(issue for issue in validation_issues(failure, doc, Describer(doc, task_paths), source)
                      if (issue.line, issue.column) not in unreadable)

    checks = FlowChecks(doc, task_paths, source)
    checks.run(known_flows)
    errors.extend(checks.errors)
    errors = _sorted(errors)
    if flow is not None and not errors:
        flow._secret_names = secret_names(text)
    return ParseResult(None if errors else flow, errors, _sorted(checks.warnings))


def _sorted(issues: list[FlowIssue]) -> list[FlowIssue]:
    return sorted(dict.fromkeys(issues), key=lambda i: (i.line, i.column, i.message))
