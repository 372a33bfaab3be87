"""The expression context of an execution (Kestra's variables), built from a snapshot."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from orchestrator.engine.executor.index import RunIndex
from orchestrator.engine.executor.snapshot import ExecutionView, TaskRunView


def loop_path(run: TaskRunView, by_id: dict[str, TaskRunView]) -> list[str]:
    """Loop values from the outermost loop down to ``run`` (empty outside loops)."""
    path: list[str] = []
    current: TaskRunView | None = run
    while current is not None:
        if current.iteration is not None and current.value is not None:
            path.append(current.value)
        current = by_id.get(current.parent_id) if current.parent_id else None
    path.reverse()
    return path


def outputs_map(runs: Iterable[TaskRunView], by_id: dict[str, TaskRunView]) -> dict[str, Any]:
    """``outputs.<task>`` as Kestra exposes it; inside loops keyed by each loop value."""
    result: dict[str, Any] = {}
    for run in runs:
        if not run.outputs:
            continue
        path = loop_path(run, by_id)
        if not path:
            result[run.task_id] = run.outputs
            continue
        node = result.setdefault(run.task_id, {})
        for value in path[:-1]:
            node = node.setdefault(value, {})
        node[path[-1]] = run.outputs
    return result


def execution_context(execution: ExecutionView, flow_revision: int, variables: dict[str, Any]) -> dict[str, Any]:
    """What every expression of an execution sees, before task-specific variables."""
    return {
        "inputs": execution.inputs,
        "vars": variables,
        "execution": {
            "id": execution.id,
            "startDate": execution.start_date,
            "originalId": execution.original_id or execution.id,
            "state": execution.state.value,
        },
        "flow": {
            "id": execution.flow_id,
            "namespace": execution.namespace,
            "revision": flow_revision,
            "tenantId": None,
        },
        "labels": nested_labels(execution.labels),
        "trigger": execution.trigger or {},
    }


def taskrun_context(base: dict[str, Any], outputs: Any, run: TaskRunView, ancestors: list[TaskRunView],
                    task_type: str, working_directory: TaskRunView | None = None) -> dict[str, Any]:
    """The context of one task run. ``ancestors``: nearest first; ``working_directory``:
    the WorkingDirectory task run (one of the ancestors) it runs in, if any."""
    context = {**base, "outputs": outputs}
    context["task"] = {"id": run.task_id, "type": task_type}
    context["taskrun"] = taskrun_variables(run)
    if run.iteration is not None:
        # ForEachItem's subflows read their batch as {{ taskrun.items }}.
        context["taskrun"]["items"] = run.value
    parents = parents_of(ancestors)
    if working_directory is not None:
        # Kestra runs a WorkingDirectory's children inside the WorkingDirectory's own worker
        # task: they see it as {{ workerTaskrun }} (its attempt is under way), and
        # parent/parents are those of the WorkingDirectory.
        context["workerTaskrun"] = taskrun_variables(working_directory)
        context["workerTaskrun"]["attemptsCount"] = max(1, len(working_directory.attempts))
        if run.parent_id == working_directory.id:
            parents = parents_of(ancestors[1:])
    context["parents"] = parents
    if parents:
        context["parent"] = parents[0]
    context["_loop_path"] = [r.value for r in reversed([run, *ancestors])
                             if r.iteration is not None and r.value is not None]
    return context


def parents_of(ancestors: list[TaskRunView]) -> list[dict[str, Any]]:
    """Kestra's ``parents``: the ancestors, closest first, each as its loop value
    (``taskrun.value``) and its outputs; ancestors with neither are left out."""
    parents: list[dict[str, Any]] = []
    for ancestor in ancestors:
        entry: dict[str, Any] = {}
        if ancestor.value is not None:
            entry["taskrun"] = {"value": ancestor.value}
        if ancestor.outputs:
            entry["outputs"] = ancestor.outputs
        if entry:
            parents.append(entry)
    return parents


def ancestors_of(run: TaskRunView, by_id: dict[str, TaskRunView]) -> list[TaskRunView]:
    chain = []
    current = by_id.get(run.parent_id) if run.parent_id else None
    while current is not None:
        chain.append(current)
        current = by_id.get(current.parent_id) if current.parent_id else None
    return chain


class ContextBuilder:
    """Builds the contexts of an execution's task runs from its snapshot's index (whose
    ``outputs`` map is kept up to date as task runs change)."""

    def __init__(self, execution: ExecutionView, flow_revision: int, variables: dict[str, Any],
                 index: RunIndex | None = None) -> None:
        self.execution = execution
        self.index = index if index is not None else RunIndex(execution.taskruns)
        self._revision = flow_revision
        self._variables = variables
        self._base: dict[str, Any] | None = None

    @property
    def base(self) -> dict[str, Any]:
        """The execution's part of every context, built on first use (most passes render
        nothing)."""
        if self._base is None:
            self._base = execution_context(self.execution, self._revision, self._variables)
        return self._base

    @property
    def by_id(self) -> dict[str, TaskRunView]:
        return self.index.by_id

    @property
    def outputs(self) -> dict[str, Any]:
        return self.index.outputs

    def for_execution(self) -> dict[str, Any]:
        return {**self.base, "outputs": self.outputs}

    def for_taskrun(self, run: TaskRunView, task_type: str,
                    working_directory: TaskRunView | None = None) -> dict[str, Any]:
        return taskrun_context(self.base, self.outputs, run, self.index.ancestors(run), task_type,
                               working_directory)


def taskrun_variables(run: TaskRunView) -> dict[str, Any]:
    """``{{ taskrun }}``: Kestra's fields, with value and parentId always present."""
    variables: dict[str, Any] = {
        "id": run.id,
        "value": run.value,
        "attemptsCount": len(run.attempts),
        "startDate": run.start_date,
        "parentId": run.parent_id,
    }
    if run.iteration is not None:
        variables["iteration"] = run.iteration
    return variables


def nested_labels(labels: dict[str, str]) -> dict[str, Any]:
    """Labels as Kestra gives them to expressions: a dotted key is a path, so
    ``system.correlationId`` reads as ``labels.system.correlationId``. A key that clashes
    with another one's path (``a`` and ``a.b``) is left out, as Kestra does."""
    nested: dict[str, Any] = {}
    for key, value in labels.items():
        *path, last = key.split(".")
        node = nested
        for part in path:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            if last not in node:
                node[last] = value
    return nested


def each_output_function(context: dict[str, Any]) -> Callable[[Any], Any]:
    """``currentEachOutput(outputs.t)``: the output of ``t`` for the current loop values."""
    path: list[str] = context.get("_loop_path", [])

    def current_each_output(value: Any) -> Any:
        for key in path:
            if isinstance(value, dict) and key in value:
                value = value[key]
        return value

    return current_each_output
