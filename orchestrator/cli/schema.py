"""A fresh database gets its tables on first use, so `flows run` works on a new DATABASE_URL."""
from __future__ import annotations

import io
import sys

from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor


def ensure_schema() -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        return
    sys.stderr.write(f"Applying {len(plan)} database migration(s)...\n")
    call_command("migrate", interactive=False, verbosity=0, stdout=io.StringIO())
