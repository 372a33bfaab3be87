"""Time as the engine sees it: the system clock, or a clock a test moves by hand."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Protocol

from django.utils import timezone


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""


class SystemClock:
    def now(self) -> datetime:
        return timezone.now()


class FakeClock:
    """A clock that moves only when told to (tests of timers, retries, leases)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or timezone.now()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now
