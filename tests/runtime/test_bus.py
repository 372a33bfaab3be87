"""The bus delivers a signal to every other process at commit, never on rollback."""
from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from orchestrator.engine.bus import WAKE, LocalBus, Signal
from orchestrator.engine.bus.table import TableBus
from orchestrator.engine.store import SqlStore

pytestmark = pytest.mark.django_db(transaction=True)


def _buses() -> tuple[LocalBus, LocalBus]:
    """Two buses as two processes would have them (each its own sender and listener)."""
    if connection.vendor == "postgresql":
        from orchestrator.engine.bus.postgres import PostgresBus

        return PostgresBus(), PostgresBus()
    store = SqlStore(10)
    return TableBus(store), TableBus(store)


class Inbox:
    def __init__(self) -> None:
        self.signals: list[tuple[Signal, float]] = []
        self.arrived = threading.Event()

    def __call__(self, signal: Signal) -> None:
        self.signals.append((signal, time.monotonic()))
        self.arrived.set()


def test_a_local_signal_is_delivered_at_commit_and_dropped_on_rollback() -> None:
    bus, inbox = LocalBus(), Inbox()
    bus.subscribe(inbox)
    with transaction.atomic():
        bus.send(WAKE, "a")
        assert inbox.signals == []
    with pytest.raises(RuntimeError), transaction.atomic():
        bus.send(WAKE, "b")
        raise RuntimeError("rolled back")
    assert [s.target for s, _ in inbox.signals] == ["a"]


def test_another_process_receives_a_signal_once_the_change_commits_and_fast() -> None:
    sender, receiver = _buses()
    inbox = Inbox()
    receiver.subscribe(inbox)
    receiver.start()
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            sender.send(WAKE, "rolled-back")
            raise RuntimeError("rolled back")
        latencies = []
        for i in range(5):
            inbox.arrived.clear()
            with transaction.atomic():
                sender.send(WAKE, f"exe-{i}")
                committing = time.monotonic()
            assert inbox.arrived.wait(2), "the signal never arrived"
            latencies.append(inbox.signals[-1][1] - committing)
        assert [s.target for s, _ in inbox.signals] == [f"exe-{i}" for i in range(5)]
        # LISTEN/NOTIFY delivers within milliseconds; the table bus polls every 0.1 s.
        bound = 0.1 if connection.vendor == "postgresql" else 0.25
        assert max(latencies) < bound, latencies
    finally:
        receiver.stop()


def test_a_process_does_not_receive_its_own_signals_twice() -> None:
    bus, _ = _buses()
    inbox = Inbox()
    bus.subscribe(inbox)
    bus.start()
    try:
        bus.send(WAKE, "mine")
        time.sleep(0.4)
        assert [s.target for s, _ in inbox.signals] == ["mine"]
    finally:
        bus.stop()
