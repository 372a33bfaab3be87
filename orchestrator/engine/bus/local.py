"""The in-process bus: subscribers of this process only."""
from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable

from django.db import transaction

from orchestrator.engine.bus.base import Handler, Signal

log = logging.getLogger(__name__)


class LocalBus:
    def __init__(self) -> None:
        self.sender = uuid.uuid4().hex[:12]
        self._handlers: list[Handler] = []
        self._lock = threading.Lock()

    def send(self, kind: str, target: str = "") -> None:
        signal = Signal(kind, target, self.sender)
        self._publish(signal)
        transaction.on_commit(lambda: self.dispatch(signal))

    def _publish(self, signal: Signal) -> None:
        """Hand the signal to other processes (in the current transaction)."""

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        with self._lock:
            self._handlers = [*self._handlers, handler]

        def unsubscribe() -> None:
            with self._lock:
                self._handlers = [h for h in self._handlers if h is not handler]

        return unsubscribe

    def dispatch(self, signal: Signal) -> None:
        for handler in self._handlers:
            try:
                handler(signal)
            except Exception:
                log.exception("bus: a handler of %s failed", signal)

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None
