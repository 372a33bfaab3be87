"""A pass costs what changed, not the size of the execution.

Counted, not timed: how many task runs a pass looks at (``Decider.child``, the lookup every
resolver goes through) while the engine's snapshot and its index live between passes, as
they do in an engine. Each iteration of a 2,000-value loop, and each of 5,000 tasks in a
row, must look at as many task runs as in a short one.
"""
from __future__ import annotations

import copy
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from orchestrator.engine.dsl import parse_flow
from orchestrator.engine.executor import ExecutionView
from orchestrator.engine.executor.decide import Decider
from orchestrator.engine.executor.index import RunIndex
from orchestrator.engine.states import State

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _spec(text: str):  # type: ignore[no-untyped-def]
    result = parse_flow(textwrap.dedent(text))
    assert result.flow is not None, [e.format() for e in result.errors]
    return result.flow


def _lookups_per_pass(spec, passes: int) -> Iterator[int]:  # type: ignore[no-untyped-def]
    """Run the flow pass after pass, each runnable task run ending SUCCESS in between (as a
    worker's report would), on one snapshot and index; yield the lookups of each pass."""
    view = ExecutionView(id="e1", namespace="t", flow_id="f", revision=1, state=State.CREATED, start_date=NOW)
    index = RunIndex(view.taskruns)
    counted = {"lookups": 0}
    original = Decider.child

    def counting(self: Decider, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        counted["lookups"] += 1
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    Decider.child = counting  # type: ignore[method-assign]
    try:
        for _ in range(passes):
            counted["lookups"] = 0
            decider = Decider(spec, view, NOW, index)
            decider.run()
            yield counted["lookups"]
            waiting = [r for r in view.taskruns if r.state == State.CREATED]
            for run in waiting:
                done = copy.copy(run)
                done.state, done.outputs = State.SUCCESS, {"value": run.value}
                index.put(done)
            if view.state.is_terminal:
                return
    finally:
        Decider.child = original  # type: ignore[method-assign]


def _loop(values: int) -> str:
    return f"""
        id: f
        namespace: t
        tasks:
          - id: each
            type: foreach
            values: "{{{{ range(0, {values}) | list }}}}"
            tasks:
              - {{id: one, type: return, format: "{{{{ taskrun.value }}}}"}}
    """


@pytest.mark.parametrize("size", [200, 2000])
def test_each_iteration_of_a_loop_looks_at_as_few_task_runs_however_long_the_loop(size: int) -> None:
    counts = list(_lookups_per_pass(_spec(_loop(size)), size + 5))
    assert len(counts) == size + 2  # start, one pass per iteration, the end
    steady = counts[2:-1]
    assert max(steady) <= 4, max(steady)


def test_each_of_five_thousand_tasks_in_a_row_looks_at_as_few_task_runs_as_the_first() -> None:
    tasks = "".join(f"  - {{id: t{i}, type: return, format: x}}\n" for i in range(5000))
    counts = list(_lookups_per_pass(_spec(f"id: f\nnamespace: t\ntasks:\n{tasks}"), 5005))
    assert len(counts) == 5001
    assert max(counts) <= 3, max(counts)
