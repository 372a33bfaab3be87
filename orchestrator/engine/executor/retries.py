"""What follows a failed attempt, by Kestra's retry rules. Pure: callers pass the clock.

The executor (Subflow task runs), the workers (runnable task runs) and the recovery of
lost attempts all ask ``after_failure`` so the three agree.

- The nearest policy wins: the task's own ``retry``, else the nearest ancestor task's
  (a Sequential, ForEach... retries its failing children), else the flow's ``retry``.
- Only runnable tasks and Subflow tasks are retried; a flowable fails from its children.
- RETRY_FAILED_TASK: a new attempt of the task run; ``maxAttempt`` counts its attempts.
- CREATE_NEW_EXECUTION: the execution ends RETRIED and a new execution of the flow starts
  after the delay; ``maxAttempt`` counts the executions of the chain and ``maxDuration``
  runs from the start of the first one (Kestra's execution metadata ``attemptNumber`` and
  ``originalCreatedDate``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from orchestrator.engine.retry import next_delay
from orchestrator.engine.tasks.base import RetryPolicy

CREATE_NEW_EXECUTION = "CREATE_NEW_EXECUTION"
# Execution.meta keys of a CREATE_NEW_EXECUTION chain.
CHAIN_ATTEMPT = "attempt"
CHAIN_STARTED = "chain_started"
RETRY_OF = "retry_of"
# An execution created by such a retry does not start before this moment (ISO text).
NOT_BEFORE = "not_before"
# Task run meta: when the execution that retries this failed task run starts (ISO text).
NEW_EXECUTION_AT = "new_execution_at"


class Next(str, Enum):
    RETRY_TASK = "retry_task"
    NEW_EXECUTION = "new_execution"
    FAIL = "fail"


@dataclass(frozen=True)
class Plan:
    next: Next
    at: datetime | None = None


GIVE_UP = Plan(Next.FAIL)


@dataclass(frozen=True)
class Chain:
    """Where an execution stands in a chain of CREATE_NEW_EXECUTION retries."""

    attempt: int
    started: datetime

    @classmethod
    def of(cls, meta: dict[str, Any], start_date: datetime) -> Chain:
        started = meta.get(CHAIN_STARTED)
        return cls(int(meta.get(CHAIN_ATTEMPT, 1)), datetime.fromisoformat(started) if started else start_date)


def policy_for(spec: Any, task_id: str) -> RetryPolicy | None:
    """The retry policy of ``task_id``: its own, the nearest ancestor's, or the flow's."""
    task = spec.task(task_id)
    if task.retry is not None:
        policy: RetryPolicy = task.retry
        return policy
    parent = spec.parent_of(task_id)
    while parent is not None:
        if parent.retry is not None:
            found: RetryPolicy = parent.retry
            return found
        parent = spec.parent_of(parent.id)
    flow_policy: RetryPolicy | None = spec.retry
    return flow_policy


def after_failure(policy: RetryPolicy | None, *, attempts: int, first_start: datetime, now: datetime,
                  seed: str, chain: Chain, render: Callable[[str], str]) -> Plan:
    """What follows the failure of attempt number ``attempts`` (counting from 1).
    ``render`` renders durations written as expressions (a DurationError if one does not
    render to a duration)."""
    if policy is None:
        return GIVE_UP
    if policy.behavior == CREATE_NEW_EXECUTION:
        delay = next_delay(policy, chain.attempt, chain.started, now, seed, render)
        return GIVE_UP if delay is None else Plan(Next.NEW_EXECUTION, now + delay)
    delay = next_delay(policy, attempts, first_start, now, seed, render)
    return GIVE_UP if delay is None else Plan(Next.RETRY_TASK, now + delay)


def warns_after_success(policy: RetryPolicy | None, attempts: int) -> bool:
    """``warningOnRetry``: a task that needed more than one attempt ends in WARNING."""
    return policy is not None and policy.warningOnRetry and attempts > 1
