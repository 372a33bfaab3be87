"""Tables of Choreo: the schema and its migrations.

The engine reads and writes its hot rows through orchestrator.engine.store (raw SQL
with state, version and lease guards); the admin, the API and the pages read them
through the ORM. State columns change only through the store.
"""
from __future__ import annotations

import uuid

from django.db import models

from flows.fields import RowIdField

STATE_CHOICES = [
    (s, s)
    for s in (
        "CREATED", "QUEUED", "RUNNING", "PAUSED", "RESTARTED", "KILLING", "SUCCESS", "WARNING",
        "FAILED", "KILLED", "CANCELLED", "RETRYING", "RETRIED", "SKIPPED",
    )
]


class Flow(models.Model):
    namespace = models.CharField(max_length=150)
    flow_id = models.CharField(max_length=100)
    revision = models.PositiveIntegerField(default=0, help_text="Number of the current revision")
    disabled = models.BooleanField(default=False)
    deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["namespace", "flow_id"], name="flow_unique_uid")]
        ordering = ["namespace", "flow_id"]

    def __str__(self) -> str:
        return f"{self.namespace}.{self.flow_id}"


class FlowRevision(models.Model):
    """The YAML text exactly as the user wrote it, never re-serialised."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    source = models.TextField()
    checksum = models.CharField(max_length=64)
    author = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["flow", "number"], name="revision_unique_number")]
        ordering = ["flow", "number"]


class Execution(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    revision = models.ForeignKey(FlowRevision, on_delete=models.PROTECT, related_name="executions")
    revision_number = models.PositiveIntegerField(default=1)
    namespace = models.CharField(max_length=150)
    flow_id = models.CharField(max_length=100)
    state = models.CharField(max_length=16, choices=STATE_CHOICES, default="CREATED")
    inputs = models.JSONField(default=dict)
    outputs = models.JSONField(default=dict)
    labels = models.JSONField(default=dict)
    trigger = models.JSONField(null=True, blank=True)
    # Indexed only where set (see Meta): most executions have no parent and no original,
    # and an index of NULLs would cost a page write on every execution created.
    parent_execution = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="subflow_executions", db_index=False
    )
    parent_taskrun_id = models.UUIDField(null=True, blank=True)
    original_execution = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    start_date = models.DateTimeField()
    end_date = models.DateTimeField(null=True, blank=True)
    # Bumped by every executor pass and by user actions that reshape the execution
    # (restart): two processes advancing the same execution cannot both win.
    version = models.PositiveIntegerField(default=0)
    # Last number of the execution's journal (ExecutionEvent and LogEntry rows share it).
    # Allocating numbers never touches ``version``: a burst of logs cannot make an
    # executor pass lose its guard.
    seq = models.PositiveBigIntegerField(default=0)
    # The engine instance advancing this execution ("" when none); see EngineInstance.
    owner = models.CharField(max_length=100, blank=True, default="")
    # Earliest moment a timer of this execution is due (pause, retry delay); null if none.
    wake_at = models.DateTimeField(null=True, blank=True)
    # Engine-private state (for example the reason of a failure).
    meta = models.JSONField(default=dict)

    class Meta:
        indexes = [
            models.Index(fields=["namespace", "flow_id", "-created_at"], name="execution_flow_idx"),
            models.Index(fields=["state"], name="execution_state_idx"),
            # Timers only: most executions have none.
            models.Index(fields=["wake_at"], name="execution_timer_idx", condition=models.Q(wake_at__isnull=False)),
            models.Index(fields=["parent_execution"], name="execution_parent_idx",
                         condition=models.Q(parent_execution__isnull=False)),
            models.Index(fields=["original_execution"], name="execution_original_idx",
                         condition=models.Q(original_execution__isnull=False)),
        ]


class TaskRun(models.Model):
    id = models.UUIDField(primary_key=True, editable=False)
    # Looked up through taskrun_unique_key (execution first): no index of its own, one page
    # write less on every task run written.
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="task_runs", db_index=False)
    task_id = models.CharField(max_length=100)
    parent_id = models.UUIDField(null=True, blank=True)
    value = models.TextField(null=True, blank=True)
    iteration = models.IntegerField(null=True, blank=True)
    # parent/task/iteration: unique in an execution, so a decision applied twice creates one row.
    key = models.CharField(max_length=300)
    seq = models.PositiveIntegerField(help_text="Creation order inside the execution")
    state = models.CharField(max_length=16, choices=STATE_CHOICES, default="CREATED")
    attempts = models.JSONField(default=list)
    outputs = models.JSONField(default=dict)
    meta = models.JSONField(default=dict)
    wake_at = models.DateTimeField(null=True, blank=True)
    # Bumped by every change: a worker's claim is guarded by the version it read.
    version = models.PositiveIntegerField(default=0)
    # The engine instance running the current attempt; the attempt is lost when that
    # instance stops heartbeating (EngineInstance.heartbeat_at).
    lease_owner = models.CharField(max_length=100, blank=True, default="")
    start_date = models.DateTimeField(null=True, blank=True)
    end_date = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["execution", "key"], name="taskrun_unique_key")]
        indexes = [
            # The running attempts only (lost-lease scans): finished task runs leave it.
            models.Index(fields=["lease_owner"], name="taskrun_running_idx",
                         condition=models.Q(state="RUNNING")),
        ]


class LogEntry(models.Model):
    id = RowIdField(primary_key=True)
    # Looked up through log_unique_seq (execution first).
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="logs", db_index=False)
    taskrun_id = models.UUIDField(null=True, blank=True)
    task_id = models.CharField(max_length=100, blank=True, default="")
    attempt = models.PositiveIntegerField(null=True, blank=True)
    seq = models.PositiveIntegerField()
    level = models.CharField(max_length=8)
    timestamp = models.DateTimeField()
    message = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["execution", "seq"], name="log_unique_seq")]


class ExecutionEvent(models.Model):
    """The execution journal: one row per change of an execution or of one of its task runs.

    ``seq`` comes from the same per-execution counter as LogEntry.seq, so the journal of
    an execution is these rows and its log lines merged by ``seq``. A row with a
    ``state`` records a transition (the state histories are read from here).
    """

    id = RowIdField(primary_key=True)
    # Looked up through event_unique_seq (execution first).
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="events", db_index=False)
    seq = models.PositiveBigIntegerField()
    type = models.CharField(max_length=16)
    taskrun_id = models.UUIDField(null=True, blank=True)
    state = models.CharField(max_length=16, null=True, blank=True)
    date = models.DateTimeField()
    payload = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["execution", "seq"], name="event_unique_seq")]


class EngineInstance(models.Model):
    """A live engine or worker process. Executions and attempts it owns are taken over by
    another instance once ``expires_at`` passed (each heartbeat moves it
    CHOREO_LEASE_SECONDS ahead), or at once when it deregisters on a clean stop."""

    id = models.CharField(max_length=100, primary_key=True)
    kind = models.CharField(max_length=16, default="engine")
    host = models.CharField(max_length=255, default="")
    pid = models.IntegerField(default=0)
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()
    expires_at = models.DateTimeField()


class BusSignal(models.Model):
    """Signals between processes when the database has no LISTEN/NOTIFY (SQLite): written
    in the transaction of the change, read by every process polling for ids above the
    last it saw, deleted after a minute."""

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=16)
    target = models.CharField(max_length=64)
    sender = models.CharField(max_length=100, default="")
    created_at = models.DateTimeField()
