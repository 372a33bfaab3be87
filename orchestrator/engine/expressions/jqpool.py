"""``jq()`` evaluated in helper processes that can be stopped and bounded.

In the engine's process, jq's C library would hold the interpreter for as long as a
program runs: ``def f: f; f`` froze the whole server (health checks, SIGTERM, every
timeout), and ``[range(12000000)]`` took a gigabyte. Each program runs instead in a
helper process (jqchild) with an address-space limit; a program still running after
JQ_TIMEOUT_SECONDS, or whose attempt is stopped (a kill, a task timeout), has its helper
killed and fails with a clear error. Helpers are kept between calls (starting one costs
~50 ms), at most JQ_HELPERS at once; a caller waits for a free one.
"""
from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from orchestrator.engine.expressions.limits import (
    JQ_HELPERS,
    JQ_MEMORY_BYTES,
    JQ_TIMEOUT_SECONDS,
    MAX_SIZE,
    check_interrupt,
    exempt,
)

_CHILD = Path(__file__).with_name("jqchild.py")
# How often a waiting caller checks whether its attempt was stopped.
_POLL_SECONDS = 0.05


class JqError(ValueError):
    """The jq program failed, or was stopped at a limit."""


class _Helper:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(_CHILD), str(JQ_MEMORY_BYTES), str(MAX_SIZE)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            # Nothing of the server's environment (secrets, DATABASE_URL) reaches it.
            env={"PATH": os.environ.get("PATH", "")},
        )
        self._buffer = b""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def ask(self, program: str, text: str) -> dict[str, Any]:
        """The child's answer; raises JqError (the helper is then dead) on a limit."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps({"program": program, "input": text}).encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise JqError(self._death()) from None
        deadline = time.monotonic() + JQ_TIMEOUT_SECONDS
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                try:
                    check_interrupt()
                except BaseException:
                    self.kill()
                    raise
                if time.monotonic() >= deadline:
                    self.kill()
                    raise JqError(f"it ran longer than {JQ_TIMEOUT_SECONDS:g} s and was stopped "
                                  "(does it recurse or loop forever?)")
                if selector.select(_POLL_SECONDS):
                    chunk = os.read(fd, 1 << 20)
                    if not chunk:
                        raise JqError(self._death())
                    self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _death(self) -> str:
        code = self.proc.wait()
        if code < 0:  # jq aborts when an allocation fails under the limit
            return f"it ran out of memory (the limit is {JQ_MEMORY_BYTES // (1 << 20)} MiB) and was stopped"
        return f"its helper process ended unexpectedly (exit code {code})"

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


class JqPool:
    def __init__(self, size: int = JQ_HELPERS) -> None:
        self._size = size
        self._idle: list[_Helper] = []
        self._started = 0
        self._cond = threading.Condition()

    def run(self, program: str, text: str) -> list[Any]:
        started = time.monotonic()
        helper = self._take()
        try:
            answer = helper.ask(program, text)
        except BaseException:
            helper.kill()
            self._give_back(None)
            raise
        finally:
            exempt(time.monotonic() - started)  # jq has a time limit of its own
        self._give_back(helper)
        if "error" in answer:
            raise JqError(str(answer["error"]))
        results: list[Any] = answer["ok"]
        return results

    def _take(self) -> _Helper:
        with self._cond:
            while True:
                while self._idle:
                    helper = self._idle.pop()
                    if helper.alive():
                        return helper
                    helper.kill()
                    self._started -= 1
                if self._started < self._size:
                    self._started += 1
                    break
                self._cond.wait(_POLL_SECONDS)
                check_interrupt()
        try:
            return _Helper()
        except BaseException:
            with self._cond:
                self._started -= 1
            raise

    def _give_back(self, helper: _Helper | None) -> None:
        with self._cond:
            if helper is not None and helper.alive():
                self._idle.append(helper)
            else:
                self._started -= 1
            self._cond.notify()


_pool = JqPool()


def run_jq(program: str, text: str) -> list[Any]:
    return _pool.run(program, text)
