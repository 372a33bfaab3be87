"""When a failed attempt runs again, from a task's retry policy."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta

from orchestrator.engine.durations import resolve_duration
from orchestrator.engine.tasks.base import RetryPolicy

# A policy with neither maxAttempt nor maxDuration would retry forever; cap it.
UNBOUNDED_ATTEMPTS = 100
_ZERO = timedelta(0)


def next_delay(policy: RetryPolicy, attempts_done: int, first_start: datetime, now: datetime,
               seed: str, render: Callable[[str], str]) -> timedelta | None:
    """Delay before attempt ``attempts_done + 1``, or None when the policy is exhausted.

    ``maxAttempt`` counts the first try; ``maxDuration`` bounds the time from the first
    start to the next attempt. The random type is seeded so a decision is reproducible.
    Durations written as expressions are rendered with ``render``; one that does not
    render to a duration raises DurationError, which names it.
    """
    limit = policy.maxAttempt
    if limit is None and policy.maxDuration is None:
        limit = UNBOUNDED_ATTEMPTS
    if limit is not None and attempts_done >= limit:
        return None
    delay = _delay(policy, attempts_done, seed, render)
    max_duration = resolve_duration(policy.maxDuration, render, "retry.maxDuration")
    if max_duration is not None and (now + delay) - first_start > max_duration:
        return None
    return delay


def _delay(policy: RetryPolicy, attempts_done: int, seed: str, render: Callable[[str], str]) -> timedelta:
    interval = resolve_duration(policy.interval, render, "retry.interval") or _ZERO
    max_interval = resolve_duration(policy.maxInterval, render, "retry.maxInterval")
    # A negative delay would be in the past: Kestra retries at once, and so do we.
    if policy.type == "constant":
        return max(interval, _ZERO)
    if policy.type == "exponential":
        factor = policy.delayFactor or 2.0
        delay = interval * (factor ** max(attempts_done - 1, 0))
        return max(min(delay, max_interval) if max_interval else delay, _ZERO)
    low = resolve_duration(policy.minInterval, render, "retry.minInterval") or _ZERO
    high = max_interval or interval or low
    digest = hashlib.sha256(f"{seed}/{attempts_done}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return max(low + (high - low) * fraction, _ZERO)
