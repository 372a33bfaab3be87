"""The store's contract, on the database the tests run against (SQLite, then PostgreSQL).

Every write goes through ``commit``, the one door: guarded by state, version and lease,
numbered in the execution's journal in the same transaction.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection, transaction

from orchestrator.engine.executor.snapshot import TaskRunView
from orchestrator.engine.journal import Entry, LogLine
from orchestrator.engine.states import IllegalTransition, State
from orchestrator.engine.store import Conflict, ExecutionChange, NewExecution, RunChange, SqlStore

pytestmark = pytest.mark.django_db(transaction=True)
NOW = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=timezone.utc)


@pytest.fixture
def store() -> SqlStore:
    return SqlStore(lease_seconds=10)


def _revision(store: SqlStore) -> tuple[int, int]:
    _, revision, _ = store.save_revision("t", "flow", "id: flow\nnamespace: t\ntasks: []\n", "x", "", False)
    return revision.id, revision.number


def _execution(store: SqlStore, **fields: object) -> str:
    revision_id, number = _revision(store)
    new = NewExecution(id=str(uuid.uuid4()), revision_id=revision_id, revision=number, namespace="t",
                       flow_id="flow", inputs={"n": 1}, labels={"team": "data"}, **fields)  # type: ignore[arg-type]
    store.create_execution(new, NOW)
    return new.id


def _run(exe_id: str, task_id: str = "a", parent: TaskRunView | None = None, seq: int = 1,
         state: State = State.CREATED) -> TaskRunView:
    key = f"{parent.id if parent else ''}/{task_id}/"
    return TaskRunView(id=str(uuid.uuid5(uuid.NAMESPACE_URL, exe_id + key)), task_id=task_id,
                       parent_id=parent.id if parent else None, value=None, iteration=None, key=key, seq=seq,
                       state=state, start_date=NOW, outputs={"é": [1, 2.5, None]}, meta={"m": True})


def test_a_new_execution_is_entry_one_of_its_journal(store: SqlStore) -> None:
    exe_id = _execution(store)
    exe = store.get_execution(exe_id)
    assert exe is not None
    assert (exe.state, exe.seq, exe.version, exe.owner) == (State.CREATED, 1, 0, "")
    assert (exe.inputs, exe.labels, exe.start_date) == ({"n": 1}, {"team": "data"}, NOW)
    [event] = store.events_since(exe_id, 0)
    assert (event.type, event.seq, event.payload["state"]) == ("execution", 1, "CREATED")


def test_a_commit_numbers_every_change_in_order_and_returns_the_events(store: SqlStore) -> None:
    exe_id = _execution(store)
    run = _run(exe_id)
    result = store.commit(
        exe_id, NOW, execution=ExecutionChange([State.RUNNING], State.CREATED, version=0),
        created=[(run, [])], logs=[LogLine(run.id, "a", None, "INFO", NOW, "hello")],
    )
    assert [(e.type, e.seq) for e in result.events] == [("execution", 2), ("taskrun", 3), ("log", 4)]
    assert (result.seq, result.version, result.state) == (4, 1, State.RUNNING)
    assert [e.seq for e in store.events_since(exe_id, 0)] == [1, 2, 3, 4]
    assert result.events[2].payload["message"] == "hello"
    [stored] = store.load_taskruns(exe_id)
    assert (stored.id, stored.state, stored.outputs, stored.meta, stored.start_date) == (
        run.id, State.CREATED, {"é": [1, 2.5, None]}, {"m": True}, NOW)


def test_a_commit_on_a_version_someone_else_moved_writes_nothing(store: SqlStore) -> None:
    exe_id = _execution(store)
    store.commit(exe_id, NOW, execution=ExecutionChange([State.RUNNING], State.CREATED, version=0))
    with pytest.raises(Conflict):
        store.commit(exe_id, NOW, execution=ExecutionChange([State.SUCCESS], State.RUNNING, version=0),
                     created=[(_run(exe_id), [])])
    exe = store.get_execution(exe_id)
    assert exe is not None and (exe.state, exe.seq) == (State.RUNNING, 2)
    assert store.load_taskruns(exe_id) == []


def test_logs_take_numbers_without_touching_the_version(store: SqlStore) -> None:
    exe_id = _execution(store)
    for i in range(3):
        store.commit(exe_id, NOW, logs=[LogLine(None, "", None, "INFO", NOW, f"line {i}")])
    exe = store.get_execution(exe_id)
    assert exe is not None and (exe.seq, exe.version) == (4, 0)
    assert [line.message for line in store.logs(exe_id)] == ["line 0", "line 1", "line 2"]


def test_a_task_run_changes_only_from_the_state_its_writer_saw(store: SqlStore) -> None:
    exe_id = _execution(store)
    run = _run(exe_id)
    store.commit(exe_id, NOW, created=[(run, [])])
    stale = _run(exe_id)
    stale.state = State.SUCCESS
    with pytest.raises(Conflict):
        store.commit(exe_id, NOW, runs=[RunChange(stale, expect=State.QUEUED, path=[State.SUCCESS])])
    result = store.commit(exe_id, NOW, runs=[RunChange(stale, expect=State.QUEUED, path=[State.SUCCESS],
                                                       required=False)],
                          logs=[LogLine(None, "", None, "WARN", NOW, "kept")])
    assert result.skipped == [run.id]
    assert [e.type for e in result.events] == ["log"]
    assert store.load_taskruns(exe_id)[0].state == State.CREATED


def test_a_terminal_state_is_never_overwritten(store: SqlStore) -> None:
    exe_id = _execution(store)
    run = _run(exe_id)
    store.commit(exe_id, NOW, created=[(run, [State.RUNNING, State.SUCCESS])])
    run.state = State.RUNNING
    with pytest.raises(IllegalTransition):
        store.commit(exe_id, NOW, runs=[RunChange(run, expect=State.SUCCESS, path=[State.RUNNING])])
    [stored] = store.load_taskruns(exe_id)
    assert stored.state == State.SUCCESS and stored.end_date == NOW


def test_a_worker_reports_only_while_it_holds_the_lease(store: SqlStore) -> None:
    exe_id = _execution(store)
    store.commit(exe_id, NOW, execution=ExecutionChange([State.RUNNING], State.CREATED))
    run = _run(exe_id)
    store.commit(exe_id, NOW, created=[(run, [])])
    claim = store.claim(run.id, "worker-1", NOW, expect_attempt=1)
    assert claim is not None
    claim.run.state = State.SUCCESS
    result = store.commit(exe_id, NOW, runs=[RunChange(claim.run, expect=State.RUNNING, path=[State.SUCCESS],
                                                       expect_lease="worker-2", required=False)])
    assert result.skipped == [run.id]
    result = store.commit(exe_id, NOW, runs=[RunChange(claim.run, expect=State.RUNNING, path=[State.SUCCESS],
                                                       expect_lease="worker-1", required=False)])
    assert result.skipped == []


def test_a_task_run_is_claimed_once_with_its_ancestors_and_execution(store: SqlStore) -> None:
    exe_id = _execution(store)
    store.commit(exe_id, NOW, execution=ExecutionChange([State.RUNNING], State.CREATED))
    parent = _run(exe_id, "block", state=State.RUNNING)
    child = _run(exe_id, "leaf", parent=parent, seq=2)
    store.commit(exe_id, NOW, created=[(parent, [State.RUNNING]), (child, [])])
    assert store.claim(child.id, "w", NOW, expect_attempt=2) is None
    claim = store.claim(child.id, "w", NOW, expect_attempt=1)
    assert claim is not None
    assert (claim.run.state, claim.run.lease_owner, claim.attempt) == (State.RUNNING, "w", 1)
    assert [a.id for a in claim.ancestors] == [parent.id]
    assert (claim.execution.id, claim.execution.labels) == (exe_id, {"team": "data"})
    assert [e.payload["state"] for e in claim.events] == ["RUNNING"]
    assert store.claim(child.id, "w2", NOW) is None


def test_nothing_is_claimed_once_the_execution_is_being_killed(store: SqlStore) -> None:
    exe_id = _execution(store)
    store.commit(exe_id, NOW, execution=ExecutionChange([State.RUNNING], State.CREATED))
    run = _run(exe_id)
    store.commit(exe_id, NOW, created=[(run, [])])
    store.commit(exe_id, NOW, execution=ExecutionChange([State.KILLING], State.RUNNING))
    assert store.claim(run.id, "w", NOW) is None
    assert store.load_taskruns(exe_id)[0].state == State.CREATED


def test_changed_task_runs_are_those_with_an_entry_after_a_number(store: SqlStore) -> None:
    exe_id = _execution(store)
    a, b = _run(exe_id, "a"), _run(exe_id, "b", seq=2)
    head = store.commit(exe_id, NOW, created=[(a, []), (b, [])]).seq
    b.state = State.QUEUED
    store.commit(exe_id, NOW, runs=[RunChange(b, expect=State.CREATED, path=[State.QUEUED])])
    assert [r.id for r in store.changed_taskruns(exe_id, head)] == [b.id]
    assert [r.id for r in store.changed_taskruns(exe_id, 0)] == [a.id, b.id]


def test_the_journal_ends_with_end_even_when_lines_arrive_late(store: SqlStore) -> None:
    exe_id = _execution(store)
    store.commit(exe_id, NOW, execution=ExecutionChange([State.RUNNING, State.SUCCESS], State.CREATED))
    store.commit(exe_id, NOW, logs=[LogLine(None, "", None, "INFO", NOW, "late")])
    types = [e.type for e in store.events_since(exe_id, 0)]
    assert types == ["execution", "execution", "execution", "end", "log", "end"]
    assert [e.seq for e in store.events_since(exe_id, 4)] == [5, 6]


def test_histories_are_read_from_the_journal(store: SqlStore) -> None:
    exe_id = _execution(store)
    run = _run(exe_id)
    later = NOW + timedelta(seconds=1)
    store.commit(exe_id, NOW, execution=ExecutionChange([State.RUNNING], State.CREATED), created=[(run, [])])
    run.state = State.SUCCESS
    store.commit(exe_id, later, runs=[RunChange(run, expect=State.CREATED, path=[State.RUNNING, State.SUCCESS])])
    execution, runs = store.histories(exe_id)
    assert execution == [("CREATED", NOW), ("RUNNING", NOW)]
    assert runs[run.id] == [("CREATED", NOW), ("RUNNING", later), ("SUCCESS", later)]


def test_labels_merge_into_the_current_ones(store: SqlStore) -> None:
    exe_id = _execution(store)
    result = store.commit(exe_id, NOW, execution=ExecutionChange(merge_labels={"stage": "prod"}))
    assert result.labels == {"team": "data", "stage": "prod"}
    exe = store.get_execution(exe_id)
    assert exe is not None and exe.labels == {"team": "data", "stage": "prod"}


def test_extra_entries_are_numbered_with_the_rest(store: SqlStore) -> None:
    exe_id = _execution(store)
    result = store.commit(exe_id, NOW, entries=[Entry("execution", NOW, {"note": 1})])
    assert [(e.type, e.seq, e.payload) for e in result.events] == [("execution", 2, {"note": 1})]


def test_an_owner_is_alive_until_its_lease_expires_or_it_leaves(store: SqlStore) -> None:
    exe_id = _execution(store)
    store.register_instance("engine-a", "engine", "host", 1, NOW)
    store.commit(exe_id, NOW, execution=ExecutionChange([State.RUNNING], State.CREATED,
                                                        fields={"owner": "engine-a"}))
    with transaction.atomic():
        exe = store.lock_execution(exe_id, NOW + timedelta(seconds=5))
    assert exe is not None and exe.owner == "engine-a" and exe.owner_alive
    assert store.orphaned_executions(NOW + timedelta(seconds=5)) == []
    later = NOW + timedelta(seconds=11)
    with transaction.atomic():
        exe = store.lock_execution(exe_id, later)
    assert exe is not None and not exe.owner_alive
    assert store.orphaned_executions(later) == [(exe_id, "RUNNING")]
    assert store.heartbeat("engine-a", later)
    assert store.orphaned_executions(later) == []
    assert store.release_executions("engine-a") == [exe_id]
    assert store.orphaned_executions(later) == [(exe_id, "RUNNING")]
    store.deregister_instance("engine-a")
    assert not store.heartbeat("engine-a", later)


def test_attempts_of_a_dead_instance_are_lost(store: SqlStore) -> None:
    exe_id = _execution(store)
    store.register_instance("worker-a", "worker", "host", 1, NOW)
    store.commit(exe_id, NOW, execution=ExecutionChange([State.RUNNING], State.CREATED))
    run = _run(exe_id)
    store.commit(exe_id, NOW, created=[(run, [])])
    assert store.claim(run.id, "worker-a", NOW) is not None
    assert store.lost_attempts(NOW + timedelta(seconds=5)) == []
    [lost] = store.lost_attempts(NOW + timedelta(seconds=11))
    assert (lost.taskrun_id, lost.execution_id, lost.lease_owner) == (run.id, exe_id, "worker-a")


def test_a_checkpoint_moves_what_was_logged_into_the_database_file(store: SqlStore) -> None:
    for _ in range(3):
        _execution(store)
    store.checkpoint()  # PostgreSQL: nothing to do, and nothing fails
    if store.vendor == "sqlite":
        with connection.cursor() as cur:
            cur.execute("PRAGMA wal_checkpoint(PASSIVE)")
            busy, logged, moved = cur.fetchone()
        # Nothing was left for this second checkpoint: the first moved every frame.
        assert (busy, moved) == (0, logged)


def test_the_lost_attempts_scan_sees_running_task_runs_only(store: SqlStore) -> None:
    exe_id = _execution(store)
    store.register_instance("worker-a", "worker", "host", 1, NOW)
    store.commit(exe_id, NOW, execution=ExecutionChange([State.RUNNING], State.CREATED))
    first, second = _run(exe_id, "a"), _run(exe_id, "b", seq=2)
    store.commit(exe_id, NOW, created=[(first, []), (second, [])])
    assert store.claim(first.id, "worker-a", NOW) is not None
    claim = store.claim(second.id, "worker-a", NOW)
    assert claim is not None
    claim.run.lease_owner = "worker-a"
    store.commit(exe_id, NOW, runs=[RunChange(claim.run, expect=State.RUNNING, path=[State.SUCCESS],
                                              expect_lease="worker-a")])
    assert [lost.taskrun_id for lost in store.lost_attempts(NOW + timedelta(seconds=11))] == [first.id]


def test_due_timers_are_found_for_their_owner_or_orphans(store: SqlStore) -> None:
    exe_id = _execution(store)
    store.register_instance("engine-a", "engine", "host", 1, NOW)
    store.commit(exe_id, NOW, execution=ExecutionChange(
        [State.RUNNING], State.CREATED, fields={"owner": "engine-a", "wake_at": NOW + timedelta(seconds=1)}))
    soon = NOW + timedelta(seconds=2)
    assert store.due_timers(NOW, "engine-a") == []
    assert store.due_timers(soon, "engine-a") == [exe_id]
    assert store.due_timers(soon, "engine-b") == []
    assert store.due_timers(NOW + timedelta(seconds=11), "engine-b") == [exe_id]


def test_signals_are_read_in_order_after_the_last_seen(store: SqlStore) -> None:
    first = store.last_signal_id()
    store.send_signal("wake", "x", "me", NOW)
    store.send_signal("kill", "y", "me", NOW)
    assert [(kind, target) for _, kind, target, _ in store.signals_after(first)] == [("wake", "x"), ("kill", "y")]
    store.prune_signals(NOW + timedelta(seconds=1))
    assert store.signals_after(first) == []
