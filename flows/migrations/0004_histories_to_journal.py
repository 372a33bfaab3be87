"""State histories move into the journal: each entry of the old ``state_history`` lists
becomes a journal row numbered after the execution's log lines (a migration of its own:
PostgreSQL cannot alter a table in the transaction that filled another one)."""
from __future__ import annotations

from typing import Any

from django.db import migrations


def histories_to_journal(apps: Any, schema_editor: Any) -> None:
    Execution = apps.get_model("flows", "Execution")
    TaskRun = apps.get_model("flows", "TaskRun")
    Event = apps.get_model("flows", "ExecutionEvent")
    for exe in Execution.objects.all().iterator():
        seq = exe.seq
        rows = []
        for entry in exe.state_history or []:
            seq += 1
            rows.append(Event(execution_id=exe.id, seq=seq, type="execution", state=entry["state"],
                              date=entry["date"], payload={"id": str(exe.id), "state": entry["state"]}))
        for run in TaskRun.objects.filter(execution_id=exe.id).order_by("seq"):
            for entry in run.state_history or []:
                seq += 1
                rows.append(Event(execution_id=exe.id, seq=seq, type="taskrun", taskrun_id=run.id,
                                  state=entry["state"], date=entry["date"],
                                  payload={"id": str(run.id), "taskId": run.task_id, "state": entry["state"]}))
        Event.objects.bulk_create(rows)
        Execution.objects.filter(id=exe.id).update(seq=seq)


class Migration(migrations.Migration):

    dependencies = [
        ("flows", "0003_journal_and_ownership"),
    ]

    operations = [
        migrations.RunPython(histories_to_journal, migrations.RunPython.noop),
    ]
