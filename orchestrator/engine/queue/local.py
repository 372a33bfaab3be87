"""The local backend: a pool of worker threads inside the process, woken by a queue."""
from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from django.db import close_old_connections, connection

from orchestrator.engine.queue.base import Job

log = logging.getLogger(__name__)
_STOP = object()


class LocalQueue:
    def __init__(self, execute: Callable[[Job], None], threads: int) -> None:
        self._execute = execute
        self._threads_wanted = max(1, threads)
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._queued: set[str] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        for i in range(self._threads_wanted):
            thread = threading.Thread(target=self._loop, name=f"choreo-worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def submit(self, job: Job) -> None:
        with self._lock:
            # The same task run may be offered twice (recovery scans); run it once here.
            if job.taskrun_id in self._queued:
                return
            self._queued.add(job.taskrun_id)
        self._queue.put(job)

    def pending(self) -> int:
        return self._queue.qsize()

    def stop(self, timeout: float = 5.0) -> None:
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def _loop(self) -> None:
        try:
            while True:
                job = self._queue.get()
                if job is _STOP:
                    return
                assert isinstance(job, Job)
                with self._lock:
                    self._queued.discard(job.taskrun_id)
                try:
                    self._execute(job)
                except Exception:
                    log.exception("worker: a job failed outside its task")
                    close_old_connections()
        finally:
            connection.close()
