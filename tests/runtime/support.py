"""Helpers for tests that run engines and workers in other processes."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings

from orchestrator.engine.queue.base import Job

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The URL of the database the tests run against (the test database)."""
    db = settings.DATABASES["default"]
    if "sqlite" in db["ENGINE"]:
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url(), "CHOREO_DATA_DIR": str(settings.CHOREO_DATA_DIR),
            "CHOREO_SHARED_DIR": str(settings.CHOREO_SHARED_DIR), **extra}


def manage(*args: str, env: dict[str, str] | None = None, **kwargs: Any) -> subprocess.Popen[str]:
    """``manage.py`` in a process of its own (a session of its own: killable as a group)."""
    return subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=env or child_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, **kwargs)


def wait_until(check: Callable[[], Any], timeout: float = 30, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


@contextmanager
def stopped(proc: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """Yield the process; whatever happens, end it (and its group) afterwards."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()


class CaptureQueue:
    """A queue backend that runs nothing: the jobs wait in ``jobs`` for a test to hand
    them to a worker of its choice (another process)."""

    jobs: list[Job] = []
    _lock = threading.Lock()

    def __init__(self, execute: Callable[[Job], None], threads: int) -> None:
        self.execute = execute

    def start(self) -> None:
        return None

    def submit(self, job: Job) -> None:
        with self._lock:
            CaptureQueue.jobs.append(job)

    def stop(self, timeout: float = 5.0) -> None:
        return None

    def pending(self) -> int:
        return 0

    def room(self) -> int:
        return 0

    def drain(self) -> list[Job]:
        return []
