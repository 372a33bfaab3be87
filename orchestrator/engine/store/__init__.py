"""The storage layer: everything the engine reads and writes on its hot path.

``Store`` (base.py) is the contract; ``SqlStore`` (sql.py) implements it in raw SQL for
SQLite and PostgreSQL through Django's connection. The Django models stay the schema;
the API, the admin and the pages keep reading through the ORM.
"""
from orchestrator.engine.store.base import (
    Claim,
    CommitResult,
    Conflict,
    ExecutionChange,
    ExecutionRow,
    LostAttempt,
    NewExecution,
    RunChange,
    Store,
)
from orchestrator.engine.store.sql import SqlStore

__all__ = [
    "Claim", "CommitResult", "Conflict", "ExecutionChange", "ExecutionRow", "LostAttempt", "NewExecution",
    "RunChange", "SqlStore", "Store",
]
