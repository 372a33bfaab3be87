"""A bus over a table, for databases without notifications (SQLite).

A signal is a row written in the transaction of the change; every process polls for rows
above the last id it saw every ``POLL_SECONDS``, so a signal from another process arrives
within that bound (0.1 s; documented as 250 ms at most). Rows older than a minute go.
"""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.db import close_old_connections, connection
from django.utils import timezone

from orchestrator.engine.bus.base import KINDS, Signal
from orchestrator.engine.bus.local import LocalBus
from orchestrator.engine.store import Store

log = logging.getLogger(__name__)
POLL_SECONDS = 0.1
KEEP = timedelta(seconds=60)
_PRUNE_EVERY = 300  # polls


class TableBus(LocalBus):
    def __init__(self, store: Store, poll_seconds: float = POLL_SECONDS) -> None:
        super().__init__()
        self.store = store
        self.poll_seconds = poll_seconds
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def _publish(self, signal: Signal) -> None:
        self.store.send_signal(signal.kind, signal.target, signal.sender, timezone.now())

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        last = self.store.last_signal_id()
        self._thread = threading.Thread(target=self._poll, args=(last,), name="choreo-bus", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _poll(self, last: int) -> None:
        polls = 0
        try:
            while not self._stopping.wait(self.poll_seconds):
                try:
                    for row_id, kind, target, sender in self.store.signals_after(last):
                        last = row_id
                        if sender != self.sender and kind in KINDS:
                            self.dispatch(Signal(kind, target, sender))
                    polls += 1
                    if polls % _PRUNE_EVERY == 0:
                        self.store.prune_signals(timezone.now() - KEEP)
                except Exception:
                    log.exception("bus: polling signals failed; trying again")
                    close_old_connections()
        finally:
            connection.close()
