"""Signals between processes: wake an execution, kill it, rescan for work.

Three implementations of one interface (base.Bus): ``LocalBus`` (one process),
``TableBus`` (a table polled every 0.1 s: SQLite, where nothing better exists) and
``PostgresBus`` (LISTEN/NOTIFY: the notification is sent in the transaction of the
change, so it is delivered at commit). Payloads carry ids only.
"""
from orchestrator.engine.bus.base import KILL, RESCAN, WAKE, Bus, Signal
from orchestrator.engine.bus.local import LocalBus

__all__ = ["Bus", "KILL", "LocalBus", "RESCAN", "Signal", "WAKE"]
