"""Running an operating-system process for a task: streamed logs, outputs, and no orphans.

The command runs in a session of its own, so its whole process group can be signalled:
on a kill or a timeout it gets SIGTERM, then SIGKILL after ``STOP_GRACE_SECONDS``; when
the main process ends, whatever it left running in its group is killed too, and if the
worker itself dies the reaper (reaper.py) kills the group. (A process that starts a
session of its own escapes the group; nothing short of cgroups stops that.)

Each stdout line is an INFO log and each stderr line a WARN log, as they are written.
A stdout line ``::{"outputs": {...}, "metrics": [...]}::`` (Kestra's convention) is not
logged: its outputs become the task's ``vars`` and its metrics the task run's metrics.
"""
from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings

from orchestrator.engine.reaper import REAPER
from orchestrator.engine.tasks.base import Level, RunContext, TaskFailed, TaskKilled
from orchestrator.engine.tasks.isolation import popen_options, task_user

STOP_GRACE_SECONDS = 1.0
# A log line is cut here, below settings.CHOREO_LOG_MESSAGE_MAX, so the cut marker shows.
LOG_LINE_MAX = 32 * 1024
# What is read of one line at most (an outputs line may be long); the rest is counted only.
# An outputs line up to settings.CHOREO_OUTPUT_MAX is always read whole (see _line_max).
READ_LINE_MAX = 1024 * 1024
# After the main process ended and its group was killed, how long to read what is left
# (a process outside the group may still hold the pipes open).
_DRAIN_SECONDS = 2.0
_POLL_SECONDS = 0.1
_IDLE_SECONDS = 0.02


@dataclass
class ProcessResult:
    exit_code: int
    vars: dict[str, Any] = field(default_factory=dict)
    wrote_stderr: bool = False
    oversized_outputs: int = 0  # bytes of an outputs line too long to be read whole


def run_process(ctx: RunContext, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str],
                stdout_level: Level = Level.INFO, stderr_level: Level = Level.WARN,
                parse_outputs: bool = True) -> ProcessResult:
    """Run ``argv`` to its end, logging its output line by line; returns its exit code
    (128 + N when signal N ended it). Raises TaskKilled if the attempt was stopped.

    ``env`` is all the process sees (see isolation.process_env); it runs as the task user
    when there is one, and ``cwd`` must then be the task user's (isolation.hand_over)."""
    if ctx.killed:
        raise TaskKilled("stopped before the process started")
    try:
        proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                **popen_options())
    except OSError as exc:
        user = task_user()
        advice = (f" (tasks run as the user {user.name!r}, CHOREO_TASK_USER: it must be able to run it; "
                  "make run grants it access to the server's Python)") if user is not None else ""
        raise TaskFailed(f"Cannot start {argv[0]!r}: {exc.strerror or exc}{advice}") from None
    group = _Group(proc)
    REAPER.track(proc.pid)
    ctx.on_stop(group.stop)
    result = ProcessResult(exit_code=0)
    output = _Output(ctx, result, stdout_level, stderr_level, parse_outputs)
    try:
        _pump(proc, group, output)
    finally:
        group.finish()
        REAPER.untrack(proc.pid)
    result.exit_code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
    if ctx.killed:
        raise TaskKilled("the process was stopped")
    if result.oversized_outputs:
        raise TaskFailed(
            f"The process wrote an outputs line (::{{...}}::) of {result.oversized_outputs:,} bytes, more than "
            f"the {settings.CHOREO_OUTPUT_MAX:,} bytes a task's outputs may hold (CHOREO_OUTPUT_MAX); none of it "
            "was kept. Write large results to a file (outputFiles) and pass the file on instead")
    return result


def _line_max() -> int:
    """Lines are read up to this many bytes: at least an outputs line within the cap, whole."""
    return max(READ_LINE_MAX, settings.CHOREO_OUTPUT_MAX + 64 * 1024)


class _Group:
    """The process group of one command, signalled safely from any thread.

    The main process is reaped only under the lock, after its group was killed: until
    then its pid (the group id) cannot be reused, so a signal never hits a stranger."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self._lock = threading.Lock()
        self._reaped = False
        self._term_at: float | None = None
        self._killed = False

    def stop(self, reason: str) -> None:
        with self._lock:
            if self._term_at is None:
                self._term_at = time.monotonic()
                self._signal(signal.SIGTERM)

    def escalate(self) -> None:
        """SIGKILL the group once the grace after SIGTERM is over."""
        with self._lock:
            if self._term_at is not None and not self._killed \
                    and time.monotonic() - self._term_at >= STOP_GRACE_SECONDS:
                self._killed = True
                self._signal(signal.SIGKILL)

    def main_exited(self) -> bool:
        # WNOWAIT: notice the exit but leave the zombie, which keeps the group id taken.
        try:
            return os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored): it has ended
            return True

    def finish(self) -> None:
        """Kill what is left of the group, then reap the main process."""
        with self._lock:
            self._signal(signal.SIGKILL)
            self.proc.wait()
            self._reaped = True

    def _signal(self, sig: signal.Signals) -> None:
        if self._reaped:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _pump(proc: subprocess.Popen[bytes], group: _Group, output: _Output) -> None:
    """Read both pipes until the main process ended and the pipes are drained."""
    assert proc.stdout is not None and proc.stderr is not None
    streams: dict[int, tuple[IO[bytes], _Lines, bool]] = {
        proc.stdout.fileno(): (proc.stdout, _Lines(_line_max()), False),
        proc.stderr.fileno(): (proc.stderr, _Lines(_line_max()), True),
    }
    drain_until: float | None = None
    with selectors.DefaultSelector() as selector:
        for fd, (stream, _, _) in streams.items():
            os.set_blocking(fd, False)
            selector.register(stream, selectors.EVENT_READ, fd)
        while True:
            if selector.get_map():
                for key, _ in selector.select(_POLL_SECONDS):
                    stream, lines, is_err = streams[key.data]
                    data = _read(key.data)
                    if data is None:
                        continue
                    for line, dropped in lines.feed(data) if data else lines.close():
                        output.line(line, dropped, is_err)
                    if not data:
                        selector.unregister(stream)
            elif drain_until is None:
                time.sleep(_IDLE_SECONDS)  # the process closed its pipes but runs on
            group.escalate()
            if drain_until is None:
                if group.main_exited():
                    group.finish()
                    drain_until = time.monotonic() + _DRAIN_SECONDS
            elif not selector.get_map() or time.monotonic() > drain_until:
                break
    for stream, lines, is_err in streams.values():
        for line, dropped in lines.close():
            output.line(line, dropped, is_err)
        stream.close()


def _read(fd: int) -> bytes | None:
    """Bytes read; b"" at the end of the stream; None if there is nothing yet."""
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return None
    except OSError:
        return b""


class _Lines:
    """Splits a byte stream into lines; of a line longer than ``limit`` only the head is
    kept and the rest counted, so memory stays bounded whatever the process writes."""

    def __init__(self, limit: int = READ_LINE_MAX) -> None:
        self.limit = limit
        self._buffer = bytearray()
        self._dropped = 0

    def feed(self, data: bytes) -> list[tuple[bytes, int]]:
        self._buffer += data
        lines = []
        while (end := self._buffer.find(b"\n")) >= 0:
            lines.append(self._take(end))
            del self._buffer[:1]
        if len(self._buffer) > self.limit:
            self._dropped += len(self._buffer) - self.limit
            del self._buffer[self.limit:]
        return lines

    def close(self) -> list[tuple[bytes, int]]:
        if not self._buffer and not self._dropped:
            return []
        return [self._take(len(self._buffer))]

    def _take(self, end: int) -> tuple[bytes, int]:
        line = bytes(self._buffer[:end])
        del self._buffer[:end]
        dropped = self._dropped + max(0, len(line) - self.limit)
        self._dropped = 0
        return line[:self.limit].removesuffix(b"\r"), dropped


class _Output:
    """Turns lines into logs, vars and metrics."""

    def __init__(self, ctx: RunContext, result: ProcessResult, stdout_level: Level, stderr_level: Level,
                 parse_outputs: bool) -> None:
        self.ctx = ctx
        self.result = result
        self.levels = (stdout_level, stderr_level)
        self.parse_outputs = parse_outputs

    def line(self, raw: bytes, dropped: int, is_err: bool) -> None:
        text = raw.decode("utf-8", errors="replace")
        if is_err:
            self.result.wrote_stderr = True
        elif self.parse_outputs and dropped and text.lstrip().startswith("::{"):
            # An outputs line cut short cannot be read: the task fails rather than go on without it.
            self.result.oversized_outputs = max(self.result.oversized_outputs, len(raw) + dropped)
            return
        elif self.parse_outputs and not dropped and self._outputs(text):
            return
        if len(text) > LOG_LINE_MAX:
            dropped += len(text[LOG_LINE_MAX:].encode("utf-8", errors="replace"))
            text = text[:LOG_LINE_MAX]
        if dropped:
            text = f"{text}… [line cut: {dropped} more bytes]"
        self.ctx.log(self.levels[is_err], text)

    def _outputs(self, text: str) -> bool:
        """Take a ``::{...}::`` line; False if the line is not one (it is logged as is)."""
        text = text.strip()
        if not (text.startswith("::{") and text.endswith("}::")):
            return False
        try:
            message = json.loads(text[2:-2])
        except ValueError:
            return False
        outputs, metrics = message.get("outputs", {}), message.get("metrics", [])
        if not ({"outputs", "metrics"} & message.keys()) or not isinstance(outputs, dict) \
                or not isinstance(metrics, (list, dict)):
            return False
        self.result.vars.update(outputs)
        _add_metrics(self.ctx.metrics, metrics)
        return True


def _add_metrics(target: dict[str, Any], metrics: list[Any] | dict[str, Any]) -> None:
    """Kestra sends ``[{"name", "type", "value", "tags"}]``; a plain ``{name: number}`` is a
    counter. Values of one name add up, as Kestra's counters and timers do."""
    entries = metrics if isinstance(metrics, list) else [{"name": k, "value": v} for k, v in metrics.items()]
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        value = entry.get("value")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        kind = entry.get("type") if entry.get("type") in ("counter", "timer") else "counter"
        current = target.get(entry["name"])
        total = value + (current["value"] if isinstance(current, dict) and current.get("type") == kind else 0)
        target[entry["name"]] = {"type": kind, "value": total, "tags": entry.get("tags") or {}}
