"""See the package docstring: the SQLite backend with an in-process write mutex."""
from __future__ import annotations

import threading
from typing import Any

from django.db.backends.sqlite3 import base

WRITE_LOCK = threading.RLock()
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_write_lock = False

    def _start_transaction_under_autocommit(self) -> None:
        WRITE_LOCK.acquire()
        self._holds_write_lock = True
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # private hook, absent from django-stubs
        except BaseException:
            self._release_write_lock()
            raise

    def _release_write_lock(self) -> None:
        if self._holds_write_lock:
            self._holds_write_lock = False
            WRITE_LOCK.release()

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]  # private hook, absent from django-stubs
        finally:
            self._release_write_lock()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]  # private hook, absent from django-stubs
        finally:
            self._release_write_lock()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]  # private hook, absent from django-stubs
        finally:
            self._release_write_lock()

    def create_cursor(self, name: Any = None) -> Any:
        return self.connection.cursor(factory=_LockingCursor)


class _LockingCursor(base.SQLiteCursorWrapper):
    """A write outside a transaction (autocommit) takes the mutex for its statement."""

    def execute(self, query: str, params: Any = None) -> Any:
        if not self.connection.in_transaction and query.lstrip()[:7].upper().startswith(_WRITES):
            with WRITE_LOCK:
                return super().execute(query, params)
        return super().execute(query, params)

    def executemany(self, query: str, param_list: Any) -> Any:
        if not self.connection.in_transaction and query.lstrip()[:7].upper().startswith(_WRITES):
            with WRITE_LOCK:
                return super().executemany(query, param_list)
        return super().executemany(query, param_list)
