"""Errors of user actions: the message says what is wrong and what to do."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.engine.dsl import FlowIssue


class ServiceError(Exception):
    """A user error: the message says what is wrong and what to do."""


class FlowNotFound(ServiceError):
    pass


class ExecutionNotFound(ServiceError):
    pass


class NotAllowed(ServiceError):
    pass


class InvalidFlow(ServiceError):
    def __init__(self, issues: list[FlowIssue]) -> None:
        super().__init__("; ".join(i.format() for i in issues))
        self.issues = issues
