"""The store in raw SQL, for SQLite and PostgreSQL (dialect.py holds their differences).

It runs through Django's connection of the calling thread, so it shares the caller's
transactions, the SQLite write mutex (orchestrator/dbsqlite) and pytest's test database,
and opens no connection of its own. Callers group calls in ``transaction.atomic()``;
each write method is atomic by itself when called outside a transaction.

Lock order: a transaction touching an execution takes the execution row first (the
journal counter lives on it), then its task runs, so two writers never wait on each
other in opposite orders.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction

from orchestrator.engine import journal
from orchestrator.engine.executor.snapshot import TaskRunView
from orchestrator.engine.journal import Entry, Event, LogLine
from orchestrator.engine.states import IllegalTransition, State, can_transition
from orchestrator.engine.store.base import (
    Claim,
    CommitResult,
    Conflict,
    ExecutionChange,
    ExecutionRow,
    NewExecution,
    RunChange,
)
from orchestrator.engine.store.cursor import cursor, writing
from orchestrator.engine.store.columns import (
    DATE_FIELDS,
    EVENT,
    EVENT_INSERT,
    EXECUTION,
    EXECUTION_COLUMNS,
    EXECUTION_SELECT,
    INSTANCE,
    JSON_FIELDS,
    LOG,
    LOG_INSERT,
    PLAIN_FIELDS,
    TASKRUN,
    TASKRUN_COLUMNS,
    TASKRUN_INSERT,
    TASKRUN_SELECT,
    TASKRUN_UPDATE,
    execution_row,
    select_list,
    taskrun_insert_params,
    taskrun_update_params,
    taskrun_view,
)
from orchestrator.engine.store.dialect import Dialect
from orchestrator.engine.store.flows import FlowRegistry
from orchestrator.engine.store.scans import Scans

_CLAIMABLE = (State.CREATED, State.QUEUED, State.RESTARTED)
# A worker may start an attempt only while its execution runs (not once it is killing).
_CLAIM_WHILE = (State.RUNNING.value, State.PAUSED.value, State.RESTARTED.value)


def check_path(start: State, path: Sequence[State]) -> None:
    """Raise IllegalTransition unless each step of ``start -> path...`` is allowed."""
    previous = start
    for state in path:
        if state != previous and not can_transition(previous, state):
            raise IllegalTransition(previous, state)
        previous = state


class SqlStore(Scans, FlowRegistry):
    # --- executions -------------------------------------------------------------------
    def create_execution(self, new: NewExecution, now: datetime) -> list[Event]:
        d = self.d
        entries: list[Entry] = [Entry(journal.EXECUTION, now, journal.execution_payload(
            new.id, State.CREATED.value, new.start_date or now, None, {}, new.labels), state=State.CREATED.value)]
        entries += [Entry(journal.TASKRUN, now, journal.taskrun_payload(run), taskrun_id=run.id, state=run.state.value)
                    for run in new.taskruns]
        for number, entry in enumerate(entries, start=1):
            entry.seq = number
        exe_id = d.uuid(new.id)
        with writing() as cur:
            cur.execute(
                f"INSERT INTO {EXECUTION} (id, revision_id, revision_number, namespace, flow_id, state, inputs, "
                "outputs, labels, trigger, parent_execution_id, parent_taskrun_id, original_execution_id, created_at, "
                "start_date, end_date, version, seq, owner, wake_at, meta) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [exe_id, new.revision_id, new.revision, new.namespace, new.flow_id, State.CREATED.value,
                 d.json(new.inputs), "{}", d.json(new.labels), d.json(new.trigger) if new.trigger is not None else None,
                 d.uuid(new.parent_id), d.uuid(new.parent_taskrun_id), d.uuid(new.original_id), d.dt(now),
                 d.dt(new.start_date or now),
                 None, 0, len(entries), new.owner, d.dt(new.wake_at), d.json(new.meta)],
            )
            if new.taskruns:
                cur.executemany(TASKRUN_INSERT, [taskrun_insert_params(d, exe_id, r) for r in new.taskruns])
            self._insert_entries(cur, exe_id, entries)
        return journal.to_events(new.id, list(entries))

    def get_execution(self, execution_id: str) -> ExecutionRow | None:
        with cursor() as cur:
            cur.execute(f"SELECT {EXECUTION_SELECT} FROM {EXECUTION} WHERE id = %s", [self.d.uuid(execution_id)])
            row = cur.fetchone()
        return execution_row(self.d, row) if row else None

    def lock_execution(self, execution_id: str, now: datetime) -> ExecutionRow | None:
        """The execution row, locked until the end of the transaction (an executor pass)."""
        d = self.d
        with cursor() as cur:
            cur.execute(
                f"SELECT {select_list(EXECUTION_COLUMNS, 'e')}, "
                f"(SELECT i.expires_at FROM {INSTANCE} i WHERE i.id = e.owner) "
                f"FROM {EXECUTION} e WHERE e.id = %s{d.for_update}",
                [d.uuid(execution_id)],
            )
            row = cur.fetchone()
        if row is None:
            return None
        exe = execution_row(d, row)
        expires = d.dt_out(row[-1])
        exe.owner_alive = expires is not None and expires >= now
        return exe

    def load_taskruns(self, execution_id: str) -> list[TaskRunView]:
        d = self.d
        with cursor() as cur:
            cur.execute(f"SELECT {TASKRUN_SELECT} FROM {TASKRUN} WHERE execution_id = %s ORDER BY seq",
                        [d.uuid(execution_id)])
            return [taskrun_view(d, r) for r in cur.fetchall()]

    def changed_taskruns(self, execution_id: str, since_seq: int) -> list[TaskRunView]:
        """Task runs with a journal entry after ``since_seq`` (what changed since a pass)."""
        d = self.d
        exe_id = d.uuid(execution_id)
        with cursor() as cur:
            cur.execute(
                f"SELECT {TASKRUN_SELECT} FROM {TASKRUN} WHERE id IN (SELECT taskrun_id FROM {EVENT} "
                "WHERE execution_id = %s AND seq > %s AND taskrun_id IS NOT NULL) ORDER BY seq",
                [exe_id, since_seq],
            )
            return [taskrun_view(d, r) for r in cur.fetchall()]

    def get_taskruns(self, ids: list[str]) -> list[TaskRunView]:
        if not ids:
            return []
        d = self.d
        marks = ", ".join(["%s"] * len(ids))
        with cursor() as cur:
            cur.execute(f"SELECT {TASKRUN_SELECT} FROM {TASKRUN} WHERE id IN ({marks}) ORDER BY seq",
                        [d.uuid(i) for i in ids])
            return [taskrun_view(d, r) for r in cur.fetchall()]

    def delete_taskruns(self, execution_id: str, ids: list[str]) -> None:
        if not ids:
            return
        marks = ", ".join(["%s"] * len(ids))
        with writing() as cur:
            cur.execute(f"DELETE FROM {TASKRUN} WHERE execution_id = %s AND id IN ({marks})",
                        [self.d.uuid(execution_id), *(self.d.uuid(i) for i in ids)])

    def delete_execution(self, execution_id: str) -> None:
        d = self.d
        exe_id = d.uuid(execution_id)
        with writing() as cur:
            cur.execute(f"UPDATE {EXECUTION} SET parent_execution_id = NULL WHERE parent_execution_id = %s", [exe_id])
            cur.execute(f"UPDATE {EXECUTION} SET original_execution_id = NULL WHERE original_execution_id = %s",
                        [exe_id])
            for table in (LOG, EVENT, TASKRUN):
                cur.execute(f"DELETE FROM {table} WHERE execution_id = %s", [exe_id])
            cur.execute(f"DELETE FROM {EXECUTION} WHERE id = %s", [exe_id])

    def child_executions(self, execution_id: str) -> list[tuple[str, State]]:
        d = self.d
        with cursor() as cur:
            cur.execute(f"SELECT id, state FROM {EXECUTION} WHERE parent_execution_id = %s", [d.uuid(execution_id)])
            return [(d.uuid_out(r[0]) or "", State(r[1])) for r in cur.fetchall()]

    def retried_by(self, execution_id: str) -> ExecutionRow | None:
        """The execution a CREATE_NEW_EXECUTION retry made of this one, if any yet."""
        d = self.d
        with cursor() as cur:
            cur.execute(f"SELECT {EXECUTION_SELECT} FROM {EXECUTION} WHERE original_execution_id = %s",
                        [d.uuid(execution_id)])
            rows = [execution_row(d, r) for r in cur.fetchall()]
        return next((r for r in rows if r.meta.get("retry_of") == execution_id), None)

    # --- the one door -------------------------------------------------------------------
    def commit(self, execution_id: str, now: datetime, *, execution: ExecutionChange | None = None,
               created: list[tuple[TaskRunView, list[State]]] | None = None,
               runs: list[RunChange] | None = None, logs: list[LogLine] | None = None,
               entries: list[Entry] | None = None) -> CommitResult:
        """Write the changes of one execution in one transaction, numbering each in its
        journal, and return the events to publish after commit. Raises Conflict when a
        required guard fails (nothing is written then)."""
        created = created or []
        runs = runs or []
        logs = logs or []
        items: list[Entry | LogLine] = list(entries or [])
        for run, path in created:
            check_path(State.CREATED, path)
            run.state = path[-1] if path else State.CREATED
            self._finish_dates(run, path, now)
            payload = journal.taskrun_payload(run)
            for state in (State.CREATED, *path):
                items.append(_run_entry(run, now, state, payload))
        run_items: dict[str, list[Entry]] = {}
        for change in runs:
            check_path(change.expect, change.path)
            change.run.state = change.path[-1] if change.path else change.expect
            self._finish_dates(change.run, change.path, now)
            payload = journal.taskrun_payload(change.run)
            steps = ([_run_entry(change.run, now, s, payload) for s in change.path]
                     or [_run_entry(change.run, now, None, payload)])
            run_items[change.run.id] = steps
            items.extend(steps)
        exe_entries: list[Entry] = []
        if execution is not None and execution.path:
            check_path(execution.expect or execution.path[0], execution.path)
            exe_entries = [Entry(journal.EXECUTION, now, {}, state=s.value) for s in execution.path]
        final = execution.path[-1] if execution is not None and execution.path else None
        ending = final is not None and final.is_terminal
        end = [Entry(journal.END, now, {"state": final.value})] if final is not None and ending else []
        # An execution starts before its task runs and ends after them.
        ordered: list[Entry | LogLine] = (
            [*exe_entries[:-1], *items, *exe_entries[-1:], *logs, *end] if ending else [*exe_entries, *items, *logs]
        )
        with writing() as cur:
            head = self._update_execution(cur, execution_id, now, execution, len(ordered))
            last_seq, state, version = head[0], State(head[1]), head[2]
            for number, item in enumerate(ordered, start=last_seq - len(ordered) + 1):
                item.seq = number
            labels = self.d.json_out(head[6])
            if execution is not None and execution.merge_labels:
                labels = {**(labels or {}), **execution.merge_labels}
                cur.execute(f"UPDATE {EXECUTION} SET labels = %s WHERE id = %s",
                            [self.d.json(labels), self.d.uuid(execution_id)])
            payload = journal.execution_payload(execution_id, state.value, self.d.dt_out(head[3]),
                                                self.d.dt_out(head[4]), self.d.json_out(head[5]) or {}, labels or {})
            for entry in exe_entries:
                entry.payload = {**payload, "state": entry.state}
            exe_id = self.d.uuid(execution_id)
            if created:
                cur.executemany(TASKRUN_INSERT, [taskrun_insert_params(self.d, exe_id, r) for r, _ in created])
            skipped = self._update_runs(cur, runs)
            # A skipped change leaves a gap in the numbers: readers never rely on them being dense.
            dropped = {id(entry) for run_id in skipped for entry in run_items[run_id]}
            written = [i for i in ordered if id(i) not in dropped]
            self._insert_entries(cur, exe_id, [i for i in written if isinstance(i, Entry)])
            self._insert_logs(cur, exe_id, [i for i in written if isinstance(i, LogLine)])
            if logs and not end and state.is_terminal:
                written.extend(self._late_end(cur, exe_id, now, state))
        return CommitResult(journal.to_events(execution_id, written), written[-1].seq if written else last_seq,
                            version, state, labels, sorted(skipped))

    def _update_execution(self, cur: Any, execution_id: str, now: datetime, change: ExecutionChange | None,
                          count: int) -> Sequence[Any]:
        d = self.d
        sets = ["seq = seq + %s"]
        params: list[Any] = [count]
        where = ["id = %s"]
        where_params: list[Any] = [d.uuid(execution_id)]
        if change is not None:
            fields = dict(change.fields)
            if change.path:
                final = change.path[-1]
                fields["state"] = final.value
                start = change.expect or change.path[0]
                if final.is_terminal and final != start:
                    fields.setdefault("end_date", now)
                if final == State.RESTARTED:
                    fields["end_date"] = None
                if final.is_terminal:
                    fields.setdefault("owner", "")
            for name, value in fields.items():
                sets.append(f"{name} = %s")
                params.append(_column_value(d, name, value))
            if change.version is not None:
                sets.append("version = version + 1")
                where.append("version = %s")
                where_params.append(change.version)
            if change.expect is not None:
                where.append("state = %s")
                where_params.append(change.expect.value)
        cur.execute(
            f"UPDATE {EXECUTION} SET {', '.join(sets)} WHERE {' AND '.join(where)} "
            "RETURNING seq, state, version, start_date, end_date, outputs, labels",
            params + where_params,
        )
        head = cur.fetchone()
        if head is None:
            raise Conflict(f"execution {execution_id} changed (or is gone)")
        return head  # type: ignore[no-any-return]

    def _update_runs(self, cur: Any, runs: list[RunChange]) -> set[str]:
        skipped: set[str] = set()
        for change in runs:
            sql = TASKRUN_UPDATE
            params = taskrun_update_params(self.d, change.run, change.expect)
            if change.expect_version is not None:
                sql += " AND version = %s"
                params.append(change.expect_version)
            if change.expect_lease is not None:
                sql += " AND lease_owner = %s"
                params.append(change.expect_lease)
            cur.execute(sql, params)
            if cur.rowcount == 1:
                change.run.version += 1
            elif change.required:
                raise Conflict(f"task run {change.run.id} changed")
            else:
                skipped.add(change.run.id)
        return skipped

    @staticmethod
    def _finish_dates(run: TaskRunView, path: Sequence[State], now: datetime) -> None:
        if path and path[-1].is_terminal and run.end_date is None:
            run.end_date = now
        if path and path[-1] == State.RESTARTED:
            run.end_date = None

    def _late_end(self, cur: Any, exe_id: Any, now: datetime, state: State) -> list[Entry]:
        """Lines logged after the end of an execution: the journal ends with ``end`` again."""
        cur.execute(f"UPDATE {EXECUTION} SET seq = seq + 1 WHERE id = %s RETURNING seq", [exe_id])
        entry = Entry(journal.END, now, {"state": state.value}, seq=cur.fetchone()[0])
        self._insert_entries(cur, exe_id, [entry])
        return [entry]

    def _insert_entries(self, cur: Any, exe_id: Any, entries: list[Entry]) -> None:
        if not entries:
            return
        d = self.d
        cur.executemany(EVENT_INSERT, [
            (exe_id, e.seq, e.type, d.uuid(e.taskrun_id), e.state, d.dt(e.date), d.json(e.payload)) for e in entries
        ])

    def _insert_logs(self, cur: Any, exe_id: Any, logs: list[LogLine]) -> None:
        if not logs:
            return
        d = self.d
        cur.executemany(LOG_INSERT, [
            (exe_id, d.uuid(line.taskrun_id), line.task_id, line.attempt, line.seq, line.level, d.dt(line.timestamp),
             line.message) for line in logs
        ])

    # --- workers --------------------------------------------------------------------------
    def claim(self, taskrun_id: str, owner: str, now: datetime, expect_attempt: int | None = None) -> Claim | None:
        """Start an attempt of a runnable task run for ``owner``; None if it is not
        claimable any more (run twice, killed, taken by another worker, or not at the
        attempt ``expect_attempt`` any more)."""
        d = self.d
        chain = self._chain(taskrun_id)
        if not chain or chain[0].state not in _CLAIMABLE:
            return None
        if expect_attempt is not None and len(chain[0].attempts) + 1 != expect_attempt:
            return None
        run, ancestors = chain[0], chain[1:]
        expect, version = run.state, run.version
        run.attempts = [*run.attempts, {"state": State.RUNNING.value, "startDate": now.isoformat(), "worker": owner}]
        run.state = State.RUNNING
        run.lease_owner = owner
        run.start_date = run.start_date or now
        try:
            with transaction.atomic(savepoint=False), cursor() as cur:
                cur.execute(
                    f"UPDATE {EXECUTION} SET seq = seq + 1 WHERE id = (SELECT execution_id FROM {TASKRUN} "
                    f"WHERE id = %s) AND state IN (%s, %s, %s) RETURNING {EXECUTION_SELECT}",
                    [d.uuid(taskrun_id), *_CLAIM_WHILE],
                )
                head = cur.fetchone()
                if head is None:
                    raise _Lost()
                exe = execution_row(d, head)
                cur.execute(TASKRUN_UPDATE + " AND version = %s", [*taskrun_update_params(d, run, expect), version])
                if cur.rowcount != 1:
                    raise _Lost()
                entry = _run_entry(run, now, State.RUNNING)
                entry.seq = exe.seq
                self._insert_entries(cur, d.uuid(exe.id), [entry])
        except _Lost:
            return None
        run.version += 1
        return Claim(run, len(run.attempts), ancestors, exe, journal.to_events(exe.id, [entry]))

    def _chain(self, taskrun_id: str) -> list[TaskRunView]:
        """A task run and its ancestors, nearest first, in one query."""
        d = self.d
        with cursor() as cur:
            cur.execute(
                f"WITH RECURSIVE chain(depth, id) AS (SELECT 0, id FROM {TASKRUN} WHERE id = %s "
                f"UNION ALL SELECT chain.depth + 1, t.parent_id FROM {TASKRUN} t JOIN chain ON t.id = chain.id "
                f"WHERE t.parent_id IS NOT NULL) SELECT {select_list(TASKRUN_COLUMNS, 't')} "
                f"FROM chain JOIN {TASKRUN} t ON t.id = chain.id ORDER BY chain.depth",
                [d.uuid(taskrun_id)],
            )
            return [taskrun_view(d, r) for r in cur.fetchall()]

    def error_logs(self, execution_id: str, limit: int = 100) -> list[dict[str, Any]]:
        d = self.d
        with cursor() as cur:
            cur.execute(f"SELECT task_id, message, timestamp FROM {LOG} WHERE execution_id = %s AND level = %s "
                        "ORDER BY seq LIMIT %s", [d.uuid(execution_id), "ERROR", limit])
            return [{"taskId": r[0], "message": r[1], "timestamp": d.dt_out(r[2])} for r in cur.fetchall()]

    # --- the journal, for readers -------------------------------------------------------------
    def histories(self, execution_id: str) -> tuple[list[tuple[str, datetime]], dict[str, list[tuple[str, datetime]]]]:
        """The state histories of the execution and of each of its task runs."""
        d = self.d
        with cursor() as cur:
            cur.execute(f"SELECT taskrun_id, state, date FROM {EVENT} WHERE execution_id = %s AND state IS NOT NULL "
                        "ORDER BY seq", [d.uuid(execution_id)])
            rows = cur.fetchall()
        execution: list[tuple[str, datetime]] = []
        runs: dict[str, list[tuple[str, datetime]]] = {}
        for taskrun_id, state, date in rows:
            when = d.dt_out(date)
            assert when is not None
            if taskrun_id is None:
                execution.append((state, when))
            else:
                runs.setdefault(d.uuid_out(taskrun_id) or "", []).append((state, when))
        return execution, runs

    def logs(self, execution_id: str, since_seq: int = 0, limit: int | None = None) -> list[LogLine]:
        d = self.d
        with cursor() as cur:
            cur.execute(f"SELECT taskrun_id, task_id, attempt, level, timestamp, message, seq FROM {LOG} "
                        "WHERE execution_id = %s AND seq > %s ORDER BY seq" + (" LIMIT %s" if limit else ""),
                        [d.uuid(execution_id), since_seq, *([limit] if limit else [])])
            return [LogLine(d.uuid_out(r[0]), r[1] or "", r[2], r[3], d.dt_out(r[4]),  # type: ignore[arg-type]
                            r[5], seq=r[6]) for r in cur.fetchall()]

    def events_since(self, execution_id: str, since_seq: int, limit: int = 1000) -> list[Event]:
        """Every event of the execution numbered after ``since_seq``, in order."""
        d = self.d
        exe_id = d.uuid(execution_id)
        with cursor() as cur:
            cur.execute(
                f"SELECT seq, type, payload, NULL, NULL, NULL, NULL, NULL, NULL FROM {EVENT} "
                "WHERE execution_id = %s AND seq > %s "
                f"UNION ALL SELECT seq, 'log', NULL, taskrun_id, task_id, attempt, level, timestamp, message "
                f"FROM {LOG} WHERE execution_id = %s AND seq > %s ORDER BY 1 LIMIT %s",
                [exe_id, since_seq, exe_id, since_seq, limit],
            )
            rows = cur.fetchall()
        events = []
        for r in rows:
            if r[1] == journal.LOG:
                line = LogLine(d.uuid_out(r[3]), r[4] or "", r[5], r[6], d.dt_out(r[7]),  # type: ignore[arg-type]
                               r[8], seq=r[0])
                events.append(Event(journal.LOG, r[0], execution_id, journal.log_payload(line)))
            else:
                events.append(Event(r[1], r[0], execution_id, d.json_out(r[2]) or {}))
        return events


class _Lost(Exception):
    """A claim lost its race; rolls back the journal number it took."""


def _run_entry(run: TaskRunView, now: datetime, state: State | None, payload: dict[str, Any] | None = None) -> Entry:
    """A task run's entry; ``payload`` (the run as in the CLI's JSON) may be shared by the
    entries of one run in one commit: each gets its own copy with its own state."""
    payload = dict(payload) if payload is not None else journal.taskrun_payload(run)
    if state is not None:
        payload["state"] = state.value
    return Entry(journal.TASKRUN, now, payload, taskrun_id=run.id, state=state.value if state else None)


def _column_value(d: Dialect, name: str, value: Any) -> Any:
    if name in JSON_FIELDS:
        return None if value is None and name == "trigger" else d.json(value)
    if name in DATE_FIELDS:
        return d.dt(value)
    if name in PLAIN_FIELDS:
        return value
    raise ValueError(f"the store does not write execution column {name!r}")
