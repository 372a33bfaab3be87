"""The bus interface."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

# Advance this execution (something changed it).
WAKE = "wake"
# Stop the running attempts of this execution (it is being killed).
KILL = "kill"
# Look for work nobody does (an engine stopped and released its executions, or
# notifications may have been missed).
RESCAN = "rescan"
KINDS = frozenset({WAKE, KILL, RESCAN})


@dataclass(frozen=True)
class Signal:
    kind: str
    target: str = ""
    # The bus that sent it: a process does not receive its own signals twice.
    sender: str = ""


Handler = Callable[[Signal], None]


class Bus(Protocol):
    sender: str

    def send(self, kind: str, target: str = "") -> None:
        """Deliver to every subscriber of every process once the current transaction
        commits (at once outside a transaction); dropped if it rolls back."""

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        """Call ``handler`` (from the bus's thread) for each signal; returns an unsubscribe."""

    def start(self) -> None:
        """Start receiving other processes' signals (idempotent)."""

    def stop(self) -> None:
        """Stop receiving."""
