"""The execution journal, engine instances and the table bus; state histories move into the journal.

Existing executions keep their histories: each entry of the old ``state_history`` lists
becomes a journal row numbered after the execution's log lines.
"""
from __future__ import annotations

from typing import Any

import django.db.models.deletion
from django.db import migrations, models


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
        ("flows", "0002_taskrun_version"),
    ]

    operations = [
        migrations.RenameField(model_name="execution", old_name="log_seq", new_name="seq"),
        migrations.AlterField(
            model_name="execution", name="seq", field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="execution", name="owner",
            field=models.CharField(blank=True, default="", max_length=100),
        ),
        migrations.CreateModel(
            name="ExecutionEvent",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("seq", models.PositiveBigIntegerField()),
                ("type", models.CharField(max_length=16)),
                ("taskrun_id", models.UUIDField(blank=True, null=True)),
                ("state", models.CharField(blank=True, max_length=16, null=True)),
                ("date", models.DateTimeField()),
                ("payload", models.JSONField(default=dict)),
                ("execution", models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE, related_name="events", to="flows.execution")),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("execution", "seq"), name="event_unique_seq")],
            },
        ),
        migrations.CreateModel(
            name="EngineInstance",
            fields=[
                ("id", models.CharField(max_length=100, primary_key=True, serialize=False)),
                ("kind", models.CharField(default="engine", max_length=16)),
                ("host", models.CharField(default="", max_length=255)),
                ("pid", models.IntegerField(default=0)),
                ("started_at", models.DateTimeField()),
                ("heartbeat_at", models.DateTimeField()),
                ("expires_at", models.DateTimeField()),
            ],
        ),
        migrations.CreateModel(
            name="BusSignal",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("kind", models.CharField(max_length=16)),
                ("target", models.CharField(max_length=64)),
                ("sender", models.CharField(default="", max_length=100)),
                ("created_at", models.DateTimeField()),
            ],
        ),
        migrations.RunPython(histories_to_journal, migrations.RunPython.noop),
        migrations.RemoveField(model_name="execution", name="state_history"),
        migrations.RemoveField(model_name="taskrun", name="state_history"),
        migrations.RemoveIndex(model_name="taskrun", name="taskrun_lease_idx"),
        migrations.RemoveField(model_name="taskrun", name="lease_expires"),
        migrations.AddIndex(
            model_name="taskrun",
            index=models.Index(fields=["state", "lease_owner"], name="taskrun_lease_idx"),
        ),
    ]
