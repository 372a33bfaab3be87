"""A worker in a process of its own: it receives only a serialised job, registers as an
instance, heartbeats, obeys kills sent on the bus and reports through the store, like the
workers inside an engine. If it dies, its attempt is recovered once its lease expires, and
its task processes die with it (see reaper.py)."""
from __future__ import annotations

import os
import socket
import threading

from django.db import close_old_connections, connection

from orchestrator.engine.bus import KILL, WAKE, Signal
from orchestrator.engine.infra import Infra
from orchestrator.engine.queue.base import Job
from orchestrator.engine.clock import Clock, SystemClock
from orchestrator.engine.worker.identity import new_instance_id
from orchestrator.engine.worker.worker import Worker

_FLUSH_SECONDS = 0.1


class StandaloneWorker:
    def __init__(self, parts: Infra, heartbeat_seconds: float, clock: Clock | None = None) -> None:
        self.id = new_instance_id("worker")
        self.parts = parts
        self.clock = clock or SystemClock()
        self.heartbeat_seconds = heartbeat_seconds
        self.worker = Worker(self.id, parts.store, parts.specs, self.clock.now, parts.publish, self._done)
        self._stopping = threading.Event()

    def run(self, job: Job) -> None:
        store, bus = self.parts.store, self.parts.bus
        store.register_instance(self.id, "worker", socket.gethostname(), os.getpid(), self.clock.now())
        unsubscribe = bus.subscribe(self._on_signal)
        bus.start()
        beat = threading.Thread(target=self._heartbeat, name="choreo-heartbeat", daemon=True)
        beat.start()
        try:
            self.worker.execute(job)
        finally:
            self._stopping.set()
            beat.join(5)
            unsubscribe()
            bus.stop()
            store.deregister_instance(self.id)

    def _done(self, execution_id: str) -> None:
        self.parts.bus.send(WAKE, execution_id)

    def _on_signal(self, signal: Signal) -> None:
        if signal.kind == KILL:
            self.worker.running.kill_execution(signal.target)

    def _heartbeat(self) -> None:
        waited = 0.0
        try:
            while not self._stopping.wait(_FLUSH_SECONDS):
                try:
                    for ctx in self.worker.running.snapshot():
                        ctx.flush_if_stale(_FLUSH_SECONDS)
                    self.worker.running.check_deadlines(self.clock.now())
                    waited += _FLUSH_SECONDS
                    if waited >= self.heartbeat_seconds:
                        waited = 0.0
                        self.parts.store.heartbeat(self.id, self.clock.now())
                except Exception:
                    close_old_connections()
        finally:
            connection.close()
