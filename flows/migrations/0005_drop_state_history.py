"""State histories live in the journal now; leases are held by instances' heartbeats."""
from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("flows", "0004_histories_to_journal"),
    ]

    operations = [
        migrations.RemoveField(model_name="execution", name="state_history"),
        migrations.RemoveField(model_name="taskrun", name="state_history"),
        migrations.RemoveIndex(model_name="taskrun", name="taskrun_lease_idx"),
        migrations.RemoveField(model_name="taskrun", name="lease_expires"),
        migrations.AddIndex(
            model_name="taskrun",
            index=models.Index(fields=["state", "lease_owner"], name="taskrun_lease_idx"),
        ),
    ]
