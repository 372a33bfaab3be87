"""How much of one attempt's log is stored: its head and its tail, with a marker between.

A task that prints 200,000 lines would otherwise store tens of megabytes of journal rows,
slow every page that shows the execution and never be read. The first lines are stored as
they come (streamed live); once the budget is spent, lines are counted and only the last
few are kept, in memory, to be stored when the attempt ends: the end of a log is where
the error usually is.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable

from django.conf import settings

from orchestrator.engine.journal import LogLine

# The share of the budget kept for the tail of the log.
_TAIL_SHARE = 10


class LogBudget:
    def __init__(self, max_lines: int | None = None, max_bytes: int | None = None) -> None:
        self.max_lines = settings.CHOREO_TASK_LOG_MAX_LINES if max_lines is None else max_lines
        self.max_bytes = settings.CHOREO_TASK_LOG_MAX_BYTES if max_bytes is None else max_bytes
        self._head_lines = self.max_lines - self.max_lines // _TAIL_SHARE
        self._head_bytes = self.max_bytes - self.max_bytes // _TAIL_SHARE
        self._tail_bytes_max = self.max_bytes // _TAIL_SHARE
        self._lines = 0
        self._bytes = 0
        self._tail: deque[LogLine] = deque(maxlen=max(self.max_lines // _TAIL_SHARE, 1))
        self._tail_bytes = 0
        self.dropped_lines = 0
        self.dropped_bytes = 0
        self._announced = False

    @property
    def spent(self) -> bool:
        return self._lines >= self._head_lines or self._bytes >= self._head_bytes

    def admit(self, line: LogLine) -> bool:
        """True: store the line now. False: the head is full; the line may end up in the tail."""
        size = len(line.message.encode("utf-8", errors="replace"))
        if not self.spent and self._bytes + size <= self._head_bytes:
            self._lines += 1
            self._bytes += size
            return True
        self._lines = max(self._lines, self._head_lines)  # once spent, stays spent
        self._keep_in_tail(line, size)
        return False

    def announcement(self) -> str | None:
        """Once, after the first line the head had no room for: what to tell live readers."""
        if self._announced or not self.spent:
            return None
        self._announced = True
        return ("[This attempt's log reached its cap: further lines are counted, and the last ones are "
                "stored when the attempt ends]")

    def _keep_in_tail(self, line: LogLine, size: int) -> None:
        if len(self._tail) == self._tail.maxlen:
            self._drop(self._tail.popleft())
        self._tail.append(line)
        self._tail_bytes += size
        while self._tail_bytes > self._tail_bytes_max and self._tail:
            self._drop(self._tail.popleft())

    def _drop(self, line: LogLine) -> None:
        size = len(line.message.encode("utf-8", errors="replace"))
        self._tail_bytes -= size
        self.dropped_lines += 1
        self.dropped_bytes += size

    def close(self, make_line: Callable[[str, str], LogLine]) -> list[LogLine]:
        """What is left to store when the attempt ends: the marker, then the tail."""
        if not self.dropped_lines:
            return list(self._tail)
        marker = make_line("WARN", (
            f"[{self.dropped_lines:,} log lines ({self.dropped_bytes:,} bytes) dropped here: an attempt stores at "
            f"most {self.max_lines:,} lines and {self.max_bytes:,} bytes of log, its first ones and its last ones "
            "(CHOREO_TASK_LOG_MAX_LINES, CHOREO_TASK_LOG_MAX_BYTES)]"))
        if self._tail:
            marker.timestamp = self._tail[0].timestamp  # in time order with the lines around it
        return [marker, *self._tail]
