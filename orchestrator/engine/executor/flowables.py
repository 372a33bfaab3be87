"""How each flowable task type advances its children (Kestra's semantics).

Each resolver looks at one RUNNING (or PAUSED) flowable task run and either creates
the children that may start now, or ends the task run once its children are over.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from orchestrator.engine.durations import DurationError, resolve_duration
from orchestrator.engine.executor.decisions import StartSubflow
from orchestrator.engine.executor.retries import (
    GIVE_UP,
    NEW_EXECUTION_AT,
    Chain,
    Next,
    after_failure,
    policy_for,
    warns_after_success,
)
from orchestrator.engine.executor.keys import subflow_execution_id
from orchestrator.engine.executor.snapshot import TaskRunView
from orchestrator.engine.expressions import ExpressionError, is_truthy
from orchestrator.engine.states import State, worst
from orchestrator.engine.system_labels import CORRELATION_ID, correlation_id, without_system
from orchestrator.engine.tasks.base import Task
from orchestrator.engine.tolerance import effective_state

if TYPE_CHECKING:
    from orchestrator.engine.executor.decide import Decider

_STOPPING = (State.FAILED, State.KILLED, State.CANCELLED)


def resolve(d: Decider, run: TaskRunView, task: Task) -> None:
    resolver = _RESOLVERS.get(type(task).__name__)
    if resolver is None:
        d.end(run, State.FAILED, reason=f"Task [{task.id}] of type {task.type} cannot be executed")
        return
    try:
        resolver(d, run, task)
    except ExpressionError as exc:
        d.end(run, State.FAILED, reason=str(exc))


_NONE: list[Task] = []


def _lists(task: Any) -> tuple[list[Task], list[Task]]:
    """The task's own ``errors`` and ``finally`` lists (not copies: sequences keep their
    place per list, see Decider.sequence)."""
    return getattr(task, "errors", None) or _NONE, getattr(task, "finally_", None) or _NONE


def _end_block(d: Decider, run: TaskRunView, task: Any, main: list[State] | None, **kw: Any) -> None:
    if main is None:
        return
    errors, finally_ = _lists(task)
    state = d.finish(run, main, errors, finally_)
    if state is not None:
        d.end(run, state, **kw)


def sequential(d: Decider, run: TaskRunView, task: Any) -> None:
    _end_block(d, run, task, d.sequence(run, task.tasks))


def allow_failure(d: Decider, run: TaskRunView, task: Any) -> None:
    main = d.sequence(run, task.tasks)
    if main is None:
        return
    errors, finally_ = _lists(task)
    state = d.finish(run, main, errors, finally_)
    if state is None:
        return
    d.end(run, State.WARNING if state == State.FAILED else state)


def parallel(d: Decider, run: TaskRunView, task: Any, limit: int | None = None) -> None:
    limit = task.concurrent if limit is None else limit
    _end_block(d, run, task, _parallel(d, run, [t for t in task.tasks if not t.disabled], limit))


def _parallel(d: Decider, parent: TaskRunView, tasks: Sequence[Task], limit: int,
              ready: Callable[[Task], bool] | None = None) -> list[State] | None:
    """Start children up to ``limit`` at once (0: all); none once one has failed."""
    runs = [(t, d.child(parent, t.id)) for t in tasks]
    if any(r is not None and r.state == State.RETRIED for _, r in runs):
        return None  # the whole execution ends RETRIED in the next round
    active = sum(1 for _, r in runs if r is not None and not r.state.is_terminal)
    failed = any(r is not None and r.state.is_terminal and effective_state(t, r.state) in _STOPPING for t, r in runs)
    waiting = False
    for t, r in runs:
        if r is not None:
            continue
        if failed:
            break
        if (limit and active >= limit) or (ready is not None and not ready(t)):
            waiting = True
            continue
        d.create(parent, t)
        active += 1
    if active or (waiting and not failed):
        return None
    return [effective_state(t, r.state) for t, r in runs if r is not None]


def if_(d: Decider, run: TaskRunView, task: Any) -> None:
    branch = run.meta.get("branch")
    if branch is None:
        condition = task.condition
        value = d.render_typed(run, condition) if isinstance(condition, str) else condition
        branch = "then" if is_truthy(value) else "else"
        d.update(run, run.state, meta={**run.meta, "branch": branch})
    tasks = task.then if branch == "then" else (task.else_ or [])
    _end_block(d, run, task, d.sequence(run, tasks))


def switch(d: Decider, run: TaskRunView, task: Any) -> None:
    case = run.meta.get("case")
    if case is None:
        value = d.render(run, task.value)
        cases = task.cases or {}
        if value in cases:
            case = value
        elif task.defaults:
            case = "__defaults__"
        else:
            d.end(run, State.FAILED, outputs={"value": value, "defaults": False},
                  reason=f"Switch task [{task.id}]: no case matches value '{value}' and there are no defaults")
            return
        outputs = {"value": value, "defaults": case == "__defaults__"}
        d.update(run, run.state, meta={**run.meta, "case": case}, outputs=outputs)
    tasks = task.defaults if case == "__defaults__" else task.cases[case]
    _end_block(d, run, task, d.sequence(run, tasks or _NONE))


def foreach(d: Decider, run: TaskRunView, task: Any, limit: int | None = None) -> None:
    values = run.meta.get("values")
    if values is None:
        try:
            values = _loop_values(d.render_typed(run, task.values))
        except ValueError as exc:
            d.end(run, State.FAILED, reason=f"ForEach task [{task.id}]: {exc}")
            return
        d.update(run, run.state, meta={**run.meta, "values": values})
    if limit is None:
        limit = getattr(task, "concurrencyLimit", 1)
    _end_block(d, run, task, _iterations(d, run, task.tasks, values, limit))


def each_parallel(d: Decider, run: TaskRunView, task: Any) -> None:
    foreach(d, run, task, limit=task.concurrent)


def _loop_values(raw: Any) -> list[str]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else []
        except json.JSONDecodeError:
            raise ValueError(f"values must be a list or a JSON array, got {raw[:200]!r}") from None
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ValueError(f"values must be a list or a JSON array, got {type(raw).__name__}")
    nulls = [i for i, v in enumerate(raw) if v is None]
    if nulls:
        raise ValueError(
            f"Found null values at position(s) {', '.join(map(str, nulls))}: null values are not allowed in a loop"
        )
    return [v if isinstance(v, str) else json.dumps(v, separators=(",", ":"), ensure_ascii=False) for v in raw]


@dataclass
class _Loop:
    """Where a loop stands, kept in the index between passes (see RunIndex.memo)."""

    tasks: Sequence[Task]
    # Iterations below ``next`` have started; ``open`` ones are not over, ``done`` ones are.
    next: int = 0
    open: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)
    states: list[State] = field(default_factory=list)
    failed: bool = False


def _iterations(d: Decider, run: TaskRunView, tasks: Sequence[Task], values: list[str], limit: int
                ) -> list[State] | None:
    """Each value runs ``tasks`` in sequence; up to ``limit`` values at once (0: all); none
    starts once one has failed. A pass looks only at the iterations whose task runs changed,
    so each iteration of a 2,000-value loop costs what it costs in a 200-value one."""
    key = ("loop", run.id)
    loop = d.index.memo.get(key)
    changed = d.index.take_dirty_iterations(run.id)
    if loop is None or loop.tasks is not tasks:
        # First sight of this loop in this snapshot: find the iterations under way.
        loop = d.index.memo[key] = _Loop(tasks)
        started = [i for i in range(len(values)) if any(d.child(run, t.id, i) is not None for t in tasks)]
        loop.next = started[-1] + 1 if started else 0
        changed = set(started)
    for i in sorted(changed):
        if i < loop.next and i not in loop.done:
            _iteration(d, run, loop, i, values[i])
    while loop.next < len(values) and not loop.failed and not (limit and len(loop.open) >= limit):
        loop.next += 1
        _iteration(d, run, loop, loop.next - 1, values[loop.next - 1])
    if loop.open or (loop.next < len(values) and not loop.failed):
        return None
    return list(loop.states)


def _iteration(d: Decider, run: TaskRunView, loop: _Loop, i: int, value: str) -> None:
    result = d.sequence(run, loop.tasks, iteration=i, value=value)
    if result is None:
        loop.open.add(i)
        return
    loop.open.discard(i)
    loop.done.add(i)
    loop.states.extend(result)
    loop.failed = loop.failed or any(s in _STOPPING for s in result)


def dag(d: Decider, run: TaskRunView, task: Any) -> None:
    nodes = [n for n in task.tasks if not n.task.disabled]
    deps = {n.task.id: list(n.dependsOn or []) for n in nodes}
    by_id = {n.task.id: n.task for n in nodes}

    def ready(t: Task) -> bool:
        for dep in deps[t.id]:
            dep_run = d.child(run, dep)
            if dep_run is None or not dep_run.state.is_terminal:
                return False
            if dep in by_id and effective_state(by_id[dep], dep_run.state) in _STOPPING:
                return False
        return True

    _end_block(d, run, task, _parallel(d, run, [n.task for n in nodes], task.concurrent, ready))


def pause(d: Decider, run: TaskRunView, task: Any) -> None:
    meta = run.meta
    if run.state == State.RUNNING and not meta.get("paused_at") and not meta.get("resumed"):
        timer, action = _pause_timer(task, lambda template: d.render(run, template))
        new_meta = {**meta, "paused_at": d.now.isoformat(), "timer_action": action}
        d.update(run, State.PAUSED, meta=new_meta, wake_at=d.now + timer if timer is not None else None)
        return
    if run.state == State.PAUSED:
        if run.wake_at is None or run.wake_at > d.now:
            return
        action = meta.get("timer_action", "resume")
        if action == "fail":
            d.end(run, State.FAILED, reason=f"Pause task [{task.id}] timed out: it was not resumed in time")
        elif action == "cancel":
            d.end(run, State.CANCELLED, reason=f"Pause task [{task.id}] ended by its pauseDuration: cancelled")
        else:
            defaults = _resume_defaults(task)
            d.update(run, State.RUNNING, clear_wake=True, outputs={**run.outputs, "onResume": defaults},
                     meta={**meta, "resumed": True, "warn": action == "warn"})
        return
    main = d.sequence(run, task.tasks or _NONE)
    if main is None:
        return
    errors, finally_ = _lists(task)
    state = d.finish(run, main, errors, finally_)
    if state is not None:
        if meta.get("warn") and state == State.SUCCESS:
            state = State.WARNING
        d.end(run, state)


def _pause_timer(task: Any, render: Callable[[str], str]) -> tuple[timedelta | None, str]:
    """How long the pause lasts and what ends it; a DurationError (an ExpressionError)
    fails the task run when an expression does not render to a duration."""
    if task.delay is not None:
        return resolve_duration(task.delay, render, "delay"), "resume"
    if getattr(task, "pauseDuration", None) is not None:
        behavior = str(getattr(task, "behavior", "RESUME") or "RESUME").lower()
        return resolve_duration(task.pauseDuration, render, "pauseDuration"), behavior
    if task.timeout is not None:
        # Kestra before 1.x (and the shared corpus): a pause not resumed in time fails.
        return resolve_duration(task.timeout, render, "timeout", positive=True), "fail"
    return None, "resume"


def _resume_defaults(task: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for definition in getattr(task, "onResume", None) or []:
        if getattr(definition, "defaults", None) is not None:
            result[definition.id] = definition.defaults
    return result


# Task run meta of a Subflow, for its current attempt: the child execution's id, the
# child's result once it ended (written when the child ends) or why it could not start
# (written by the apply layer, which is where a missing flow or refused inputs show).
CHILD_ID, CHILD, START_ERROR = "child_id", "child", "start_error"


def without_child(meta: dict[str, Any]) -> dict[str, Any]:
    """Meta for a new attempt of a Subflow task run."""
    return {k: v for k, v in meta.items() if k not in (CHILD_ID, CHILD, START_ERROR)}


def subflow(d: Decider, run: TaskRunView, task: Any) -> None:
    """One child execution per attempt; a failed attempt is retried by the nearest retry
    policy (a new child execution each time). Attempts record the child's id and end state."""
    meta = run.meta
    child_id = meta.get(CHILD_ID)
    if not child_id:
        _start_child(d, run, task)
        return
    ids = {"executionId": child_id}
    if meta.get(START_ERROR):
        _attempt_failed(d, run, ids, str(meta[START_ERROR]))
        return
    if not task.wait:
        _attempt_ended(d, run, State.SUCCESS, ids)
        return
    child = meta.get(CHILD)
    if child is None:
        return
    state = State(child["state"])
    outputs: dict[str, Any] = {**ids, "state": state.value}
    extracted = dict(child.get("outputs") or {})
    if task.outputs:
        context = {**d.context(run), "outputs": child.get("taskOutputs") or {}}
        from orchestrator.engine.expressions import render_value

        try:
            extracted.update(render_value(dict(task.outputs), context))
        except ExpressionError as exc:
            _attempt_failed(d, run, outputs, f"Subflow outputs could not be rendered: {exc}")
            return
    outputs["outputs"] = extracted
    if state in (State.FAILED, State.CANCELLED) and task.transmitFailed:
        _attempt_failed(d, run, outputs, f"Subflow execution {child_id} ended {state.value}")
    elif state == State.KILLED and task.transmitFailed:
        _attempt_ended(d, run, state, outputs, reason=f"Subflow execution {child_id} ended KILLED")
    elif state == State.WARNING and task.transmitFailed:
        _attempt_ended(d, run, state, outputs)
    else:
        _attempt_ended(d, run, State.SUCCESS, outputs)


def _start_child(d: Decider, run: TaskRunView, task: Any) -> None:
    child_id = subflow_execution_id(run.id, len(run.attempts) + int(run.meta.get("restarts", 0)))
    attempts = [*run.attempts, {"state": State.RUNNING.value, "startDate": d.now.isoformat(), "executionId": child_id}]
    try:
        namespace = d.render(run, task.namespace)
        flow_id = d.render(run, task.flowId)
        inputs = d.render_value(run, dict(task.inputs or {}))
        labels: dict[str, str] = without_system(d.exe.labels) if task.inheritLabels else {}
        labels.update({k: str(v) for k, v in _labels(d.render_value(run, task.labels)).items()})
    except ExpressionError as exc:
        d.update(run, run.state, attempts=attempts)
        _attempt_failed(d, run, {}, f"Subflow task [{task.id}] cannot start: its namespace, flowId, inputs or "
                                    f"labels do not render: {exc}")
        return
    # Every execution of a chain carries the id of the first one (Kestra's system label).
    labels[CORRELATION_ID] = correlation_id(d.exe.labels, d.exe.id)
    # The meta first: if the child cannot start, the apply layer adds why to this meta.
    d.update(run, run.state, meta={**run.meta, CHILD_ID: child_id}, outputs={"executionId": child_id},
             attempts=attempts)
    d.start_subflow(run, StartSubflow(
        taskrun_id=run.id, execution_id=child_id, namespace=namespace, flow_id=flow_id, revision=task.revision,
        inputs=inputs, labels=labels,
    ))


def _closed(run: TaskRunView, state: State, now: Any) -> list[dict[str, Any]]:
    attempts = [dict(a) for a in run.attempts]
    if attempts and not State(attempts[-1]["state"]).is_terminal:
        attempts[-1].update(state=state.value, endDate=now.isoformat())
    return attempts


def _attempt_ended(d: Decider, run: TaskRunView, state: State, outputs: dict[str, Any],
                   reason: str | None = None) -> None:
    attempts = _closed(run, state, d.now)
    if state == State.SUCCESS and warns_after_success(policy_for(d.spec, run.task_id), len(attempts)):
        state = State.WARNING
    d.end(run, state, outputs=outputs, attempts=attempts, reason=reason)


def _attempt_failed(d: Decider, run: TaskRunView, outputs: dict[str, Any], reason: str) -> None:
    """The current attempt failed: retry it, hand over to a new execution, or fail."""
    attempts = _closed(run, State.FAILED, d.now)
    try:
        plan = after_failure(policy_for(d.spec, run.task_id), attempts=len(attempts),
                             first_start=run.start_date or d.now, now=d.now, seed=run.id,
                             chain=Chain.of(d.exe.meta, d.exe.start_date), render=lambda t: d.render(run, t))
    except DurationError as exc:
        plan, reason = GIVE_UP, f"{reason}; not retried: {exc}"
    if plan.next == Next.RETRY_TASK and plan.at is not None:
        d.update(run, State.RETRYING, outputs=outputs, attempts=attempts, wake_at=plan.at,
                 reason=f"{reason} (attempt {len(attempts)}, retrying at {plan.at.isoformat()})")
    elif plan.next == Next.NEW_EXECUTION and plan.at is not None:
        d.update(run, State.RETRIED, outputs=outputs, attempts=attempts, clear_wake=True,
                 meta={**run.meta, NEW_EXECUTION_AT: plan.at.isoformat()}, reason=reason)
    else:
        d.end(run, State.FAILED, outputs=outputs, attempts=attempts, reason=reason)


def foreach_item(d: Decider, run: TaskRunView, task: Any) -> None:
    """The three steps (split, items, merge) in sequence; the merge's outputs are the task's."""
    main = d.sequence(run, task.steps)
    if main is None:
        return
    state = worst(main)
    merge = d.child(run, task.steps[-1].id)
    d.end(run, state, outputs=dict(merge.outputs) if merge is not None and merge.outputs else None)


def foreach_item_batches(d: Decider, run: TaskRunView, task: Any) -> None:
    split = d.child(d.by_id[run.parent_id] if run.parent_id else None, task.split_id)
    splits = list((split.outputs if split is not None else {}).get("splits") or [])
    subflow_task = task.child_lists()["tasks"]
    _end_block(d, run, task, _iterations(d, run, subflow_task, splits, 0))


def _labels(raw: Any) -> dict[str, Any]:
    if not raw:
        return {}
    if isinstance(raw, dict):
        return raw
    return {item["key"]: item["value"] for item in raw}


_RESOLVERS: dict[str, Callable[..., None]] = {
    "Sequential": sequential,
    "AllowFailure": allow_failure,
    "Parallel": parallel,
    "If": if_,
    "Switch": switch,
    "ForEach": foreach,
    "EachSequential": lambda d, run, task: foreach(d, run, task, limit=1),
    "EachParallel": each_parallel,
    "Dag": dag,
    "Pause": pause,
    "Subflow": subflow,
    "WorkingDirectory": sequential,
    "ForEachItem": foreach_item,
    "ForEachItemBatches": foreach_item_batches,
}
