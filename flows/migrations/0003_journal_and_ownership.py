"""The execution journal, engine instances and the table bus."""
from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models


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
    ]
