"""Filters for the server's log."""
from __future__ import annotations

import logging


class WithoutTraceback(logging.Filter):
    """Keep the record's message, drop its traceback: for errors that are the client's
    (a request with a Host header not in ALLOWED_HOSTS), where a stack trace says nothing
    and a client could flood the log with them."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True
