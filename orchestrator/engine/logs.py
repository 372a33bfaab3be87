"""Log lines on their way to the journal: masked (secrets) and capped (size)."""
from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings

from orchestrator.engine.journal import LogLine
from orchestrator.engine.secrets import mask_text


def cap(text: str, limit: int, what: str = "message") -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{what} truncated: {len(text) - limit} more characters]"


def prepare(lines: Sequence[LogLine], secrets: Sequence[str] = ()) -> list[LogLine]:
    """The lines as they are stored: every secret masked, each message capped."""
    limit = settings.CHOREO_LOG_MESSAGE_MAX
    for line in lines:
        line.message = cap(mask_text(line.message, secrets), limit)
    return list(lines)
