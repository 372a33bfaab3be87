"""Cursors of the driver itself, on Django's connection.

Django's cursor wrapper, parameter rewriting and row handling cost more than SQLite's
own work on a lookup by key (115 µs against 15 µs, measured): the store takes the
driver's cursor from the same connection, so it stays in the caller's transaction and
Django still maps the driver's errors to django.db's (``wrap_database_errors``). Writes
that the store makes outside a transaction run in one (``transaction.atomic``), so on
SQLite they take the process's write mutex like every other write.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction


class Cursor:
    """A driver cursor that takes SQL with ``%s`` placeholders on every database."""

    def __init__(self, raw: Any, qmark: bool) -> None:
        self.raw = raw
        self._qmark = qmark

    def _sql(self, sql: str) -> str:
        return _qmarks(sql) if self._qmark else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.raw.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.raw.executemany(self._sql(sql), rows)

    def fetchone(self) -> Any:
        return self.raw.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self.raw.fetchall())

    @property
    def rowcount(self) -> int:
        return int(self.raw.rowcount)


_QMARKS: dict[str, str] = {}


def _qmarks(sql: str) -> str:
    converted = _QMARKS.get(sql)
    if converted is None:
        # The store's SQL has no literal % (nothing to escape): %s becomes SQLite's ?.
        converted = _QMARKS[sql] = sql.replace("%s", "?")
    return converted


@contextmanager
def cursor() -> Iterator[Cursor]:
    # The thread's wrapper, looked up once (each attribute of django.db.connection is a
    # lookup through a thread-local proxy).
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.connection is None:
        conn.ensure_connection()
    with conn.wrap_database_errors:
        raw = conn.connection.cursor()
        try:
            yield Cursor(raw, conn.vendor == "sqlite")
        finally:
            raw.close()


@contextmanager
def writing() -> Iterator[Cursor]:
    """A cursor for writes that must be atomic: in the caller's transaction when there is
    one (an error then rolls all of it back, as ``atomic(savepoint=False)`` would), else in
    a transaction of their own. Entering an atomic block that is already open costs more
    than the write it guards (Django's connection lookups), on every step of a flow."""
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        with cursor() as cur:
            yield cur
        return
    with transaction.atomic(savepoint=False), cursor() as cur:
        yield cur
