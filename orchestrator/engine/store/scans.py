"""The store's side of ownership and recovery: engine instances, the scans that find
work nobody does, flows and concurrency slots, and the table bus.

An instance is alive until its ``expires_at`` (each heartbeat moves it one lease ahead,
the lease being the instance's own CHOREO_LEASE_SECONDS); an execution (or an attempt)
whose owner is not alive, or has no owner, is work another engine takes over.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction

from orchestrator.engine.states import State
from orchestrator.engine.store.base import LostAttempt
from orchestrator.engine.store.cursor import cursor, writing
from orchestrator.engine.store.columns import EXECUTION, INSTANCE, SIGNAL, TASKRUN
from orchestrator.engine.store.dialect import Dialect, dialect_for

ACTIVE = tuple(s.value for s in State if not s.is_terminal)
_ACTIVE_MARKS = ", ".join(["%s"] * len(ACTIVE))
_WAITING_FOR_WORKER = (State.CREATED.value, State.QUEUED.value, State.RESTARTED.value)
# Rows of instances that stopped heartbeating this long ago are deleted.
_FORGET_INSTANCES = timedelta(hours=1)


class Scans:
    def __init__(self, lease_seconds: float) -> None:
        self.lease = timedelta(seconds=lease_seconds)
        self._dialect: Dialect | None = None

    @property
    def d(self) -> Dialect:
        if self._dialect is None:
            self._dialect = dialect_for(connection)
        return self._dialect

    @property
    def vendor(self) -> str:
        return self.d.name

    def _rows(self, sql: str, params: list[Any]) -> list[Any]:
        with cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())

    # --- instances ------------------------------------------------------------------------
    def register_instance(self, instance_id: str, kind: str, host: str, pid: int, now: datetime) -> None:
        d = self.d
        with writing() as cur:
            cur.execute(
                f"INSERT INTO {INSTANCE} (id, kind, host, pid, started_at, heartbeat_at, expires_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                "heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at",
                [instance_id, kind, host[:255], pid, d.dt(now), d.dt(now), d.dt(now + self.lease)],
            )
            cur.execute(f"DELETE FROM {INSTANCE} WHERE expires_at < %s", [d.dt(now - _FORGET_INSTANCES)])

    def heartbeat(self, instance_id: str, now: datetime) -> bool:
        """Renew the instance's lease on everything it owns; False if its row was gone."""
        with writing() as cur:
            cur.execute(f"UPDATE {INSTANCE} SET heartbeat_at = %s, expires_at = %s WHERE id = %s",
                        [self.d.dt(now), self.d.dt(now + self.lease), instance_id])
            return bool(cur.rowcount)

    def deregister_instance(self, instance_id: str) -> None:
        with writing() as cur:
            cur.execute(f"DELETE FROM {INSTANCE} WHERE id = %s", [instance_id])

    def release_executions(self, owner: str) -> list[str]:
        """Give up the executions ``owner`` advances (a clean stop): others take them at once."""
        with writing() as cur:
            cur.execute(f"UPDATE {EXECUTION} SET owner = '' WHERE owner = %s RETURNING id", [owner])
            rows = cur.fetchall()
        return [self.d.uuid_out(r[0]) or "" for r in rows]

    def _dead_owner(self, column: str, now: datetime) -> tuple[str, list[Any]]:
        """SQL true when ``column`` names no live instance."""
        return (f"NOT EXISTS (SELECT 1 FROM {INSTANCE} i WHERE i.id = {column} AND i.expires_at >= %s)",
                [self.d.dt(now)])

    def checkpoint(self) -> None:
        """Move the write-ahead log into the database file (SQLite; nothing on PostgreSQL).

        An engine calls it from its maintenance thread: the connection whose commit crosses
        SQLite's own threshold (``wal_autocheckpoint``) would otherwise do it inside that
        commit, with two fsyncs, on the executor's path (measured: 1 commit in 60 took 5 ms
        instead of 0.1, a third of all commit time)."""
        with cursor() as cur:
            self.d.checkpoint(cur)

    # --- scans ----------------------------------------------------------------------------------
    def orphaned_executions(self, now: datetime, limit: int = 200) -> list[tuple[str, str]]:
        """(id, state) of unfinished executions with no live owner."""
        dead, params = self._dead_owner("e.owner", now)
        rows = self._rows(
            f"SELECT e.id, e.state FROM {EXECUTION} e WHERE e.state IN ({_ACTIVE_MARKS}) "
            f"AND (e.owner = '' OR {dead}) ORDER BY e.created_at LIMIT %s",
            [*ACTIVE, *params, limit],
        )
        return [(self.d.uuid_out(r[0]) or "", r[1]) for r in rows]

    def owned_heads(self, owner: str) -> list[tuple[str, int]]:
        """(id, journal head) of the unfinished executions ``owner`` advances."""
        rows = self._rows(f"SELECT id, seq FROM {EXECUTION} WHERE owner = %s AND state IN ({_ACTIVE_MARKS})",
                          [owner, *ACTIVE])
        return [(self.d.uuid_out(r[0]) or "", r[1]) for r in rows]

    def due_timers(self, now: datetime, owner: str, limit: int = 500) -> list[str]:
        """Executions with a due timer that ``owner`` may advance (its own or orphans)."""
        dead, params = self._dead_owner("e.owner", now)
        rows = self._rows(
            f"SELECT e.id FROM {EXECUTION} e WHERE e.wake_at <= %s AND e.state IN ({_ACTIVE_MARKS}) "
            f"AND (e.owner IN (%s, '') OR {dead}) LIMIT %s",
            [self.d.dt(now), *ACTIVE, owner, *params, limit],
        )
        return [self.d.uuid_out(r[0]) or "" for r in rows]

    def lost_attempts(self, now: datetime, limit: int = 100) -> list[LostAttempt]:
        """Running attempts whose worker instance is no longer alive."""
        dead, params = self._dead_owner("t.lease_owner", now)
        # The state as a literal: the query then matches taskrun_running_idx's condition
        # (a partial index is not used for a parameter, on SQLite).
        rows = self._rows(
            f"SELECT t.id, t.execution_id, t.lease_owner FROM {TASKRUN} t WHERE t.state = '{State.RUNNING.value}' "
            f"AND t.lease_owner <> '' AND {dead} LIMIT %s",
            [*params, limit],
        )
        return [LostAttempt(self.d.uuid_out(r[0]) or "", self.d.uuid_out(r[1]) or "", r[2]) for r in rows]

    def stale_runnable(self, owner: str, before: datetime, limit: int = 200) -> list[str]:
        """Executions of ``owner`` with a runnable task run waiting since before ``before``."""
        rows = self._rows(
            f"SELECT DISTINCT t.execution_id FROM {TASKRUN} t JOIN {EXECUTION} e ON e.id = t.execution_id "
            f"WHERE e.owner = %s AND e.state IN ({_ACTIVE_MARKS}) AND t.state IN (%s, %s, %s) "
            "AND t.start_date < %s LIMIT %s",
            [owner, *ACTIVE, *_WAITING_FOR_WORKER, self.d.dt(before), limit],
        )
        return [self.d.uuid_out(r[0]) or "" for r in rows]

    # --- flows and concurrency slots ----------------------------------------------------------
    def revision_source(self, revision_id: int) -> str:
        rows = self._rows("SELECT source FROM flows_flowrevision WHERE id = %s", [revision_id])
        if not rows:
            raise LookupError(f"no flow revision {revision_id}")
        return str(rows[0][0])

    def current_revision(self, namespace: str, flow_id: str,
                         number: int | None = None) -> tuple[int, int, bool] | None:
        """(revision id, revision number, flow disabled) of a deployed flow; None if absent."""
        rows = self._rows(
            "SELECT r.id, r.number, f.disabled FROM flows_flow f JOIN flows_flowrevision r ON r.flow_id = f.id "
            "AND r.number = COALESCE(%s, f.revision) WHERE f.namespace = %s AND f.flow_id = %s AND NOT f.deleted",
            [number, namespace, flow_id],
        )
        return (rows[0][0], rows[0][1], bool(rows[0][2])) if rows else None

    def holding_slots(self, namespace: str, flow_id: str, exclude: str) -> int:
        """Executions of the flow holding a concurrency slot, the flow row locked (on
        PostgreSQL; SQLite's write lock serialises already) so two engines cannot both
        take the last slot."""
        self._rows(f"SELECT id FROM flows_flow WHERE namespace = %s AND flow_id = %s{self.d.for_update}",
                   [namespace, flow_id])
        holding = (State.RUNNING.value, State.PAUSED.value, State.KILLING.value, State.RESTARTED.value)
        rows = self._rows(
            f"SELECT COUNT(*) FROM {EXECUTION} WHERE namespace = %s AND flow_id = %s AND state IN (%s, %s, %s, %s) "
            "AND id <> %s", [namespace, flow_id, *holding, self.d.uuid(exclude)],
        )
        return int(rows[0][0])

    def oldest_queued(self, namespace: str, flow_id: str) -> str | None:
        rows = self._rows(
            f"SELECT id FROM {EXECUTION} WHERE namespace = %s AND flow_id = %s AND state = %s "
            "ORDER BY created_at LIMIT 1", [namespace, flow_id, State.QUEUED.value],
        )
        return self.d.uuid_out(rows[0][0]) if rows else None

    # --- the table bus ------------------------------------------------------------------------------
    def send_signal(self, kind: str, target: str, sender: str, now: datetime) -> None:
        with writing() as cur:
            cur.execute(f"INSERT INTO {SIGNAL} (kind, target, sender, created_at) VALUES (%s, %s, %s, %s)",
                        [kind, target, sender, self.d.dt(now)])

    def signals_after(self, last_id: int, limit: int = 500) -> list[tuple[int, str, str, str]]:
        rows = self._rows(f"SELECT id, kind, target, sender FROM {SIGNAL} WHERE id > %s ORDER BY id LIMIT %s",
                          [last_id, limit])
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def last_signal_id(self) -> int:
        rows = self._rows(f"SELECT MAX(id) FROM {SIGNAL}", [])
        return int(rows[0][0] or 0)

    def prune_signals(self, before: datetime) -> None:
        with writing() as cur:
            cur.execute(f"DELETE FROM {SIGNAL} WHERE created_at < %s", [self.d.dt(before)])
