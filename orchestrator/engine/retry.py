"""When a failed attempt runs again, from a task's retry policy."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from orchestrator.engine.tasks.base import RetryPolicy

# A policy with neither maxAttempt nor maxDuration would retry forever; cap it.
UNBOUNDED_ATTEMPTS = 100


def next_delay(policy: RetryPolicy, attempts_done: int, first_start: datetime, now: datetime,
               seed: str) -> timedelta | None:
    """Delay before attempt ``attempts_done + 1``, or None when the policy is exhausted.

    ``maxAttempt`` counts the first try; ``maxDuration`` bounds the time from the first
    start to the next attempt. The random type is seeded so a decision is reproducible.
    """
    limit = policy.maxAttempt
    if limit is None and policy.maxDuration is None:
        limit = UNBOUNDED_ATTEMPTS
    if limit is not None and attempts_done >= limit:
        return None
    delay = _delay(policy, attempts_done, seed)
    if policy.maxDuration is not None and (now + delay) - first_start > policy.maxDuration:
        return None
    return delay


def _delay(policy: RetryPolicy, attempts_done: int, seed: str) -> timedelta:
    interval = policy.interval or timedelta(0)
    if policy.type == "constant":
        return interval
    if policy.type == "exponential":
        factor = policy.delayFactor or 2.0
        delay = interval * (factor ** max(attempts_done - 1, 0))
        return min(delay, policy.maxInterval) if policy.maxInterval else delay
    low = policy.minInterval or timedelta(0)
    high = policy.maxInterval or interval or low
    digest = hashlib.sha256(f"{seed}/{attempts_done}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return low + (high - low) * fraction
