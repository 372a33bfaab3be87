"""The few ways SQLite and PostgreSQL differ for the store's SQL, in one place.

Values are written in the representation Django's own backends use, so the ORM keeps
reading every row the store writes: on SQLite uuids are 32 hex digits and datetimes
naive UTC text; on PostgreSQL they are native types. JSON columns travel as text both
ways (Django registers a text loader for jsonb).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from orchestrator.engine.store import codec


class Dialect:
    name = "generic"
    # Appended to the SELECT that starts an executor pass.
    for_update = ""

    def uuid(self, value: str | None) -> Any:
        raise NotImplementedError

    def uuid_out(self, value: Any) -> str | None:
        raise NotImplementedError

    def dt(self, value: datetime | None) -> Any:
        raise NotImplementedError

    def dt_out(self, value: Any) -> datetime | None:
        raise NotImplementedError

    @staticmethod
    def json(value: Any) -> str:
        return codec.dumps(value)

    @staticmethod
    def json_out(value: Any) -> Any:
        if value is None:
            return None
        return codec.loads(value) if isinstance(value, (str, bytes)) else value

    def notify(self, cursor: Any, channel: str, payload: str) -> None:
        """Send a notification delivered at commit, when the database has them."""

    def checkpoint(self, cursor: Any) -> None:
        """Move what the database logged into its main file, when it keeps such a log."""


class SQLiteDialect(Dialect):
    name = "sqlite"

    def uuid(self, value: str | None) -> Any:
        return None if value is None else value.replace("-", "")

    def uuid_out(self, value: Any) -> str | None:
        if value is None:
            return None
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"

    def dt(self, value: datetime | None) -> Any:
        if value is None:
            return None
        return str(value.astimezone(timezone.utc).replace(tzinfo=None))

    def dt_out(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)

    def checkpoint(self, cursor: Any) -> None:
        # PASSIVE: copies what no reader still needs and never waits for one; writers go on.
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        cursor.fetchone()


class PostgresDialect(Dialect):
    name = "postgresql"
    for_update = " FOR UPDATE"

    def uuid(self, value: str | None) -> Any:
        return None if value is None else uuid.UUID(value)

    def uuid_out(self, value: Any) -> str | None:
        return None if value is None else str(value)

    def dt(self, value: datetime | None) -> Any:
        return value

    def dt_out(self, value: Any) -> datetime | None:
        return value

    def notify(self, cursor: Any, channel: str, payload: str) -> None:
        cursor.execute("SELECT pg_notify(%s, %s)", [channel, payload])


def dialect_for(connection: BaseDatabaseWrapper) -> Dialect:
    if connection.vendor == "sqlite":
        return SQLiteDialect()
    if connection.vendor == "postgresql":
        return PostgresDialect()
    raise RuntimeError(f"Choreo's store supports SQLite and PostgreSQL, not {connection.vendor}")
