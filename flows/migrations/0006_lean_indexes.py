"""Fewer index pages written per change: no index of a foreign key that a unique
constraint starting with it already covers, partial indexes for columns that are mostly
NULL (parent, original, timers) and for running task runs only, and journal ids without
SQLite's AUTOINCREMENT (see flows.fields.RowIdField). On SQLite the three tables are
rebuilt (Django copies them); on PostgreSQL only indexes change."""

import django.db.models.deletion
import flows.fields
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('flows', '0005_drop_state_history'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='execution',
            name='execution_wake_idx',
        ),
        migrations.RemoveIndex(
            model_name='taskrun',
            name='taskrun_lease_idx',
        ),
        migrations.AlterField(
            model_name='execution',
            name='original_execution',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='replays', to='flows.execution'),
        ),
        migrations.AlterField(
            model_name='execution',
            name='parent_execution',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='subflow_executions', to='flows.execution'),
        ),
        migrations.AlterField(
            model_name='executionevent',
            name='execution',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='events', to='flows.execution'),
        ),
        migrations.AlterField(
            model_name='executionevent',
            name='id',
            field=flows.fields.RowIdField(primary_key=True, serialize=False),
        ),
        migrations.AlterField(
            model_name='logentry',
            name='execution',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='logs', to='flows.execution'),
        ),
        migrations.AlterField(
            model_name='logentry',
            name='id',
            field=flows.fields.RowIdField(primary_key=True, serialize=False),
        ),
        migrations.AlterField(
            model_name='taskrun',
            name='execution',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='task_runs', to='flows.execution'),
        ),
        migrations.AddIndex(
            model_name='execution',
            index=models.Index(condition=models.Q(('wake_at__isnull', False)), fields=['wake_at'], name='execution_timer_idx'),
        ),
        migrations.AddIndex(
            model_name='execution',
            index=models.Index(condition=models.Q(('parent_execution__isnull', False)), fields=['parent_execution'], name='execution_parent_idx'),
        ),
        migrations.AddIndex(
            model_name='execution',
            index=models.Index(condition=models.Q(('original_execution__isnull', False)), fields=['original_execution'], name='execution_original_idx'),
        ),
        migrations.AddIndex(
            model_name='taskrun',
            index=models.Index(condition=models.Q(('state', 'RUNNING')), fields=['lease_owner'], name='taskrun_running_idx'),
        ),
    ]
