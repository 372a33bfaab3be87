"""Kestra's retry rules as pure functions: which policy applies and what a failure leads to."""
from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta

from orchestrator.engine.dsl import parse_flow
from orchestrator.engine.executor.retries import GIVE_UP, Chain, Next, Plan, after_failure, policy_for
from orchestrator.engine.tasks.base import RetryPolicy

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
FLOW = """
id: f
namespace: t
retry: {type: constant, interval: PT1S, maxAttempt: 9}
tasks:
  - id: outer
    type: sequential
    retry: {type: constant, interval: PT1S, maxAttempt: 5}
    tasks:
      - id: inner
        type: parallel
        tasks:
          - {id: own, type: fail, retry: {type: constant, interval: PT1S, maxAttempt: 2}}
          - {id: inherits, type: fail}
  - {id: top, type: fail}
errors:
  - {id: handler, type: fail}
"""


def _spec():  # type: ignore[no-untyped-def]
    result = parse_flow(textwrap.dedent(FLOW))
    assert result.flow is not None
    return result.flow


def test_the_tasks_own_policy_wins_then_the_nearest_ancestors_then_the_flows() -> None:
    spec = _spec()
    limits = {task_id: policy_for(spec, task_id).maxAttempt  # type: ignore[union-attr]
              for task_id in ("own", "inherits", "top", "handler")}
    assert limits == {"own": 2, "inherits": 5, "top": 9, "handler": 9}


def _policy(**fields: object) -> RetryPolicy:
    return RetryPolicy.model_validate({"type": "constant", "interval": "PT10S", **fields})


def test_retry_failed_task_counts_the_attempts_of_the_task_run() -> None:
    policy = _policy(maxAttempt=3)
    chain = Chain(attempt=1, started=NOW)
    plans = [after_failure(policy, attempts=n, first_start=NOW, now=NOW, seed="s", render=str, chain=chain)
             for n in (1, 2, 3)]
    later = NOW + timedelta(seconds=10)
    assert plans == [Plan(Next.RETRY_TASK, later), Plan(Next.RETRY_TASK, later), GIVE_UP]


def test_create_new_execution_counts_the_executions_of_the_chain() -> None:
    policy = _policy(maxAttempt=3, behavior="CREATE_NEW_EXECUTION")
    plans = [after_failure(policy, attempts=1, first_start=NOW, now=NOW, seed="s", render=str, chain=Chain(n, NOW))
             for n in (1, 2, 3)]
    later = NOW + timedelta(seconds=10)
    assert plans == [Plan(Next.NEW_EXECUTION, later), Plan(Next.NEW_EXECUTION, later), GIVE_UP]


def test_create_new_execution_max_duration_runs_from_the_first_execution() -> None:
    policy = _policy(maxDuration="PT25S", behavior="CREATE_NEW_EXECUTION")
    first = Chain(1, NOW)
    assert after_failure(policy, attempts=1, first_start=NOW, now=NOW + timedelta(seconds=10), seed="s", render=str,
                         chain=first).next == Next.NEW_EXECUTION
    third = Chain(3, NOW)
    assert after_failure(policy, attempts=1, first_start=NOW + timedelta(seconds=20),
                         now=NOW + timedelta(seconds=20), seed="s", render=str, chain=third) == GIVE_UP


def test_a_chain_is_read_from_execution_meta_and_defaults_to_a_first_execution() -> None:
    assert Chain.of({}, NOW) == Chain(1, NOW)
    earlier = NOW - timedelta(minutes=1)
    assert Chain.of({"attempt": 3, "chain_started": earlier.isoformat()}, NOW) == Chain(3, earlier)


def test_no_policy_means_no_retry() -> None:
    assert after_failure(None, attempts=1, first_start=NOW, now=NOW, seed="s", render=str, chain=Chain(1, NOW)) == GIVE_UP
