"""Model fields of Choreo's own."""
from __future__ import annotations

from typing import Any

from django.db import models


class RowIdField(models.BigAutoField):
    """A BigAutoField that is SQLite's plain rowid (no AUTOINCREMENT).

    AUTOINCREMENT keeps the highest id ever used in ``sqlite_sequence``, a row every insert
    rewrites: one more page per commit on the journal's hot path. The rows of the journal
    are found by (execution, seq), never by id, so an id used again after its row was
    purged harms nothing. Other databases get BigAutoField's column unchanged.
    """

    def db_type_suffix(self, connection: Any) -> str | None:
        if connection.vendor == "sqlite":
            return None
        return super().db_type_suffix(connection)  # type: ignore[no-any-return]
