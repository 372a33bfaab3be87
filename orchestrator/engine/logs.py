"""Writing log lines: per-execution sequence numbers, masking and size caps."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import F

from flows.models import Execution, LogEntry
from orchestrator.engine.secrets import mask_text


@dataclass
class PendingLog:
    taskrun_id: str | None
    task_id: str
    attempt: int | None
    level: str
    timestamp: datetime
    message: str


def cap(text: str, limit: int, what: str = "message") -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{what} truncated: {len(text) - limit} more characters]"


def write_logs(execution_id: str, lines: Sequence[PendingLog], secrets: Sequence[str] = ()) -> list[LogEntry]:
    """Store ``lines`` with consecutive sequence numbers. Call inside a transaction.

    The counter lives on the execution row, so the UPDATE also serialises writers of one
    execution; callers take that row lock before touching task runs (one lock order).
    """
    if not lines:
        return []
    Execution.objects.filter(id=execution_id).update(log_seq=F("log_seq") + len(lines))
    last = Execution.objects.filter(id=execution_id).values_list("log_seq", flat=True).get()
    first = last - len(lines) + 1
    limit = settings.CHOREO_LOG_MESSAGE_MAX
    entries = [
        LogEntry(
            execution_id=execution_id,
            taskrun_id=line.taskrun_id,
            task_id=line.task_id,
            attempt=line.attempt,
            seq=first + i,
            level=line.level,
            timestamp=line.timestamp,
            message=cap(mask_text(line.message, secrets), limit),
        )
        for i, line in enumerate(lines)
    ]
    LogEntry.objects.bulk_create(entries)
    return entries
