"""A bus over PostgreSQL's LISTEN/NOTIFY.

``send`` runs ``pg_notify`` inside the caller's transaction, so the notification leaves
at commit (and never for a rolled-back change). A dedicated connection, outside Django's,
listens. After it reconnects, subscribers get a RESCAN: notifications sent while it was
away are gone, and engines look for work the database says nobody does.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

import psycopg
from django.db import connection

from orchestrator.engine.bus.base import KINDS, RESCAN, Signal
from orchestrator.engine.bus.local import LocalBus

log = logging.getLogger(__name__)
CHANNEL = "choreo"
_WAIT_SECONDS = 0.5


def conninfo(settings_dict: dict[str, Any]) -> dict[str, Any]:
    """psycopg connection arguments from a Django DATABASES entry."""
    params = {
        "dbname": settings_dict.get("NAME") or "postgres",
        "user": settings_dict.get("USER") or None,
        "password": settings_dict.get("PASSWORD") or None,
        "host": settings_dict.get("HOST") or None,
        "port": settings_dict.get("PORT") or None,
    }
    return {k: v for k, v in params.items() if v is not None}


class PostgresBus(LocalBus):
    def __init__(self) -> None:
        super().__init__()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connected = threading.Event()

    def _publish(self, signal: Signal) -> None:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_notify(%s, %s)", [CHANNEL, f"{signal.kind}:{signal.target}:{signal.sender}"])

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        params = conninfo(connection.settings_dict)
        self._thread = threading.Thread(target=self._listen, args=(params,), name="choreo-bus", daemon=True)
        self._thread.start()
        # Signals sent after start() returns must not be missed.
        self._connected.wait(5)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _listen(self, params: dict[str, Any]) -> None:
        first = True
        while not self._stopping.is_set():
            try:
                with psycopg.connect(**params, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._connected.set()
                    if not first:
                        self.dispatch(Signal(RESCAN))
                    first = False
                    while not self._stopping.is_set():
                        for note in conn.notifies(timeout=_WAIT_SECONDS):
                            self._receive(note.payload)
            except psycopg.Error:
                log.warning("bus: the LISTEN connection failed; reconnecting", exc_info=True)
                self._connected.set()
                self._stopping.wait(1.0)

    def _receive(self, payload: str) -> None:
        kind, _, rest = payload.partition(":")
        target, _, sender = rest.rpartition(":")
        if sender != self.sender and kind in KINDS:
            self.dispatch(Signal(kind, target, sender))
