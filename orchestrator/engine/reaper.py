"""Task processes die with their worker.

Each process task runs in a process group of its own (see processes.py). A small watcher
process, started once per worker process on its first task, holds the read end of a
pipe; the worker registers each running group with it. When the worker dies, even by
``kill -9``, the pipe closes and the watcher kills every group still registered: an
attempt is never reported lost while its script goes on finishing the work unobserved.
(A process that leaves its group with setsid escapes; only cgroups would stop that.)
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

log = logging.getLogger(__name__)

_WATCHER = """
import os, signal, sys
groups = set()
for line in sys.stdin:
    sign, pgid = line[:1], int(line[1:])
    if sign == "+":
        groups.add(pgid)
    else:
        groups.discard(pgid)
for pgid in groups:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
"""


class Reaper:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._owner_pid = 0

    def track(self, pgid: int) -> None:
        self._send(f"+{pgid}\n")

    def untrack(self, pgid: int) -> None:
        self._send(f"-{pgid}\n")

    def _send(self, line: str) -> None:
        with self._lock:
            try:
                stdin = self._watcher().stdin
                assert stdin is not None
                stdin.write(line.encode())
                stdin.flush()
            except (OSError, ValueError):
                # The watcher is gone: the next task starts a new one.
                log.warning("the process reaper is not running; starting it again", exc_info=True)
                self._proc = None

    def _watcher(self) -> subprocess.Popen[bytes]:
        # A forked worker (prefork pools) needs a watcher of its own.
        if self._proc is None or self._proc.poll() is not None or self._owner_pid != os.getpid():
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _WATCHER], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,
            )
            self._owner_pid = os.getpid()
        return self._proc


# One per operating-system process: it stands for the process itself.
REAPER = Reaper()
