"""Upgrading a database keeps what it had: state histories move into the journal."""
from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("flows", "0002_taskrun_version")]
AFTER = [("flows", "0005_drop_state_history")]


def _migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


def test_state_histories_become_journal_entries_numbered_after_the_log_lines() -> None:
    old = _migrate(BEFORE).loader.project_state(BEFORE).apps
    try:
        flow = old.get_model("flows", "Flow").objects.create(namespace="t", flow_id="f", revision=1)
        revision = old.get_model("flows", "FlowRevision").objects.create(flow=flow, number=1, source="x",
                                                                       checksum="x")
        exe = old.get_model("flows", "Execution").objects.create(
            id=uuid.uuid4(), revision=revision, namespace="t", flow_id="f", state="SUCCESS", log_seq=2,
            start_date="2026-01-01T00:00:00Z",
            state_history=[{"state": "CREATED", "date": "2026-01-01T00:00:00+00:00"},
                           {"state": "SUCCESS", "date": "2026-01-01T00:00:01+00:00"}])
        run = old.get_model("flows", "TaskRun").objects.create(
            id=uuid.uuid4(), execution=exe, task_id="a", key="/a/", seq=1, state="SUCCESS",
            state_history=[{"state": "CREATED", "date": "2026-01-01T00:00:00+00:00"},
                           {"state": "SUCCESS", "date": "2026-01-01T00:00:01+00:00"}])
    finally:
        new = _migrate(AFTER).loader.project_state(AFTER).apps
    entries = list(new.get_model("flows", "ExecutionEvent").objects.filter(execution_id=exe.id)
                   .order_by("seq").values_list("seq", "taskrun_id", "state"))
    assert entries == [(3, None, "CREATED"), (4, None, "SUCCESS"), (5, run.id, "CREATED"), (6, run.id, "SUCCESS")]
    assert new.get_model("flows", "Execution").objects.get(id=exe.id).seq == 6
