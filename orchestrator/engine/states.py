"""Execution and task run states, and the transitions allowed between them."""
from __future__ import annotations

from enum import Enum


class State(str, Enum):
    CREATED = "CREATED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    RESTARTED = "RESTARTED"
    KILLING = "KILLING"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    FAILED = "FAILED"
    KILLED = "KILLED"
    CANCELLED = "CANCELLED"
    RETRYING = "RETRYING"
    RETRIED = "RETRIED"
    SKIPPED = "SKIPPED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def is_failed(self) -> bool:
        """Counts as a failure of the surrounding block (errors branches run)."""
        return self in (State.FAILED, State.KILLED)

    @property
    def is_running(self) -> bool:
        return self in (State.RUNNING, State.KILLING)

    def __str__(self) -> str:
        return self.value


TERMINAL = frozenset(
    {State.SUCCESS, State.WARNING, State.FAILED, State.KILLED, State.CANCELLED, State.SKIPPED, State.RETRIED}
)

_ANY_ACTIVE = {State.CREATED, State.QUEUED, State.RUNNING, State.PAUSED, State.RESTARTED, State.RETRYING, State.KILLING}

# What each state may become. Terminal states only leave through RESTARTED (restart of a
# failed execution), never by a late worker report: a terminal state is never overwritten.
ALLOWED: dict[State, frozenset[State]] = {
    State.CREATED: frozenset(TERMINAL | {State.QUEUED, State.RUNNING, State.PAUSED, State.KILLING}),
    State.QUEUED: frozenset(TERMINAL | {State.RUNNING, State.KILLING}),
    State.RUNNING: frozenset(TERMINAL | {State.PAUSED, State.RETRYING, State.KILLING, State.QUEUED}),
    State.PAUSED: frozenset(TERMINAL | {State.RUNNING, State.KILLING}),
    State.RESTARTED: frozenset(TERMINAL | {State.QUEUED, State.RUNNING, State.KILLING}),
    State.RETRYING: frozenset(TERMINAL | {State.QUEUED, State.RUNNING, State.KILLING}),
    State.KILLING: frozenset({State.KILLED}),
    State.SUCCESS: frozenset({State.RESTARTED}),
    State.WARNING: frozenset({State.RESTARTED}),
    State.FAILED: frozenset({State.RESTARTED}),
    State.KILLED: frozenset({State.RESTARTED}),
    State.CANCELLED: frozenset(),
    State.SKIPPED: frozenset(),
    State.RETRIED: frozenset(),
}
assert set(ALLOWED) == set(State)
assert all(s in ALLOWED for s in _ANY_ACTIVE)


def can_transition(old: State, new: State) -> bool:
    return new in ALLOWED[old]


class IllegalTransition(Exception):
    def __init__(self, old: State, new: State) -> None:
        super().__init__(f"cannot go from {old.value} to {new.value}")
        self.old = old
        self.new = new


def worst(states: list[State]) -> State:
    """The end state of a block from its children's end states (Kestra's precedence)."""
    if State.KILLED in states:
        return State.KILLED
    if State.FAILED in states:
        return State.FAILED
    if State.WARNING in states:
        return State.WARNING
    return State.SUCCESS
