"""This process's infrastructure, built once from settings: the store, the bus, the event
publisher, the spec cache.

Services and commands take them from here; an Engine is given them (tests build engines
from their own: a LocalBus, a fake clock). Nothing else in the engine is process-global.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.utils.module_loading import import_string

from orchestrator.engine.bus import Bus, LocalBus
from orchestrator.engine.events import Changes, Publisher, publish
from orchestrator.engine.journal import Event
from orchestrator.engine.store import SqlStore, Store
from orchestrator.engine.store.specs import SpecCache


@dataclass
class Infra:
    store: Store
    bus: Bus
    publisher: Publisher
    specs: SpecCache
    changes: Changes = field(default_factory=Changes)

    def publish(self, events: list[Event]) -> None:
        """Hand events to the publisher and wake local waiters (call after commit)."""
        publish(self.publisher, self.changes, events)


def build_bus(store: Store) -> Bus:
    kind = settings.CHOREO_BUS
    if kind == "auto":
        kind = "postgres" if connection.vendor == "postgresql" else "table"
    if kind == "postgres":
        from orchestrator.engine.bus.postgres import PostgresBus

        return PostgresBus()
    if kind == "table":
        from orchestrator.engine.bus.table import TableBus

        return TableBus(store)
    return LocalBus()


def build() -> Infra:
    store = SqlStore(settings.CHOREO_LEASE_SECONDS)
    publisher: Publisher = import_string(settings.CHOREO_EVENT_PUBLISHER)()
    return Infra(store=store, bus=build_bus(store), publisher=publisher, specs=SpecCache(store))


_infra: Infra | None = None
_lock = threading.Lock()


def infra() -> Infra:
    global _infra
    if _infra is None:
        with _lock:
            if _infra is None:
                _infra = build()
    return _infra


def reset() -> None:
    """Forget the built infrastructure (tests that change settings between runs)."""
    global _infra
    with _lock:
        if _infra is not None:
            _infra.bus.stop()
        _infra = None
