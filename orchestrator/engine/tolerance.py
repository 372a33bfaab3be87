"""What a task tolerates: how ``allowFailure`` and ``allowWarning`` change the end state
of its own task run.

Kestra applies them where a task run ends, in this order, after ``warningOnRetry``
(which turns a success that needed retries into WARNING): a FAILED task run allowed to
fail ends WARNING, then a WARNING task run allowed to warn ends SUCCESS. So a task with
both ends SUCCESS when it fails, and a retried success with ``warningOnRetry`` ends
SUCCESS when warnings are allowed. The worker applies this to runnable tasks, the
executor to flowable ones; a block then sees the tolerated state.
"""
from __future__ import annotations

from orchestrator.engine.states import State
from orchestrator.engine.tasks.base import Task


def tolerated_state(task: Task, state: State) -> State:
    """``state`` once ``task``'s allowFailure and allowWarning are applied."""
    if state == State.FAILED and task.allowFailure:
        state = State.WARNING
    if state == State.WARNING and task.allowWarning:
        state = State.SUCCESS
    return state


def effective_state(task: Task, state: State) -> State:
    """How a child's end state counts for its block: tolerated (a task run that ended
    outside the worker and the resolvers, such as a failed runIf, is tolerated here), and
    SKIPPED as SUCCESS."""
    state = tolerated_state(task, state)
    return State.SUCCESS if state == State.SKIPPED else state
