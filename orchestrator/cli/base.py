"""What every Choreo command shares: stdout holds only the result, errors are one clear line.

Exit codes: 0 success, 1 the execution ended badly (or validation failed), 2 a user
error (unknown id, invalid flow, bad input), 3 a --timeout expired.
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from orchestrator.engine.infra import infra
from orchestrator.engine.serialize import execution_json
from orchestrator.engine.states import State
from orchestrator.engine.store import ExecutionRow

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 3


class Exit(Exception):
    """Leave the command with ``code``, printing ``message`` to stderr if any."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ChoreoCommand(BaseCommand):
    requires_system_checks: list[str] = []
    # Commands that only read files (validate, schema) set this to False.
    needs_database = True
    # The execution a waiting command works on: Ctrl-C from then on detaches from it.
    detach_id: str | None = None

    def execute(self, *args: Any, **options: Any) -> Any:
        if self.needs_database and not _is_file_only(options):
            from orchestrator.cli.schema import ensure_schema

            ensure_schema()
        return super().execute(*args, **options)

    def run_from_argv(self, argv: list[str]) -> None:
        from orchestrator.engine.dsl import InputError
        from orchestrator.engine.services import ServiceError

        try:
            super().run_from_argv(argv)
        except KeyboardInterrupt:
            if self.detach_id:
                self.stderr.write(f"Detached: execution {self.detach_id} goes on; any running Choreo engine "
                                  "(python manage.py serve) carries it on.")
                sys.exit(EXIT_OK)
            self.stderr.write("Interrupted")
            sys.exit(130)
        except Exit as exc:
            if exc.message:
                self.stderr.write(exc.message)
            sys.exit(exc.code)
        except InputError as exc:
            for message in exc.messages:
                self.stderr.write(f"error: {message}")
            sys.exit(EXIT_USAGE)
        except ServiceError as exc:
            self.stderr.write(f"error: {exc}")
            sys.exit(EXIT_USAGE)

    def emit_json(self, data: Any) -> None:
        self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str))

    def info(self, message: str) -> None:
        self.stderr.write(message)


def _is_file_only(options: dict[str, Any]) -> bool:
    return options.get("action") in ("validate", "schema")


def add_output_flags(parser: CommandParser, logs: bool = True) -> None:
    parser.add_argument("--json", action="store_true", help="print exactly one JSON document on stdout")
    if logs:
        parser.add_argument("--logs", action="store_true", help="include the execution's logs")


def add_wait_flags(parser: CommandParser) -> None:
    parser.add_argument("--timeout", type=float, default=None, help="stop waiting after SECONDS (exit 3)")


def parse_inputs(pairs: list[str] | None) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; the value is the text a user types (the flow's input types coerce it)."""
    result: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise Exit(EXIT_USAGE, f"error: --input expects KEY=VALUE, got {pair!r}")
        result[key.strip()] = value
    return result


def settled(exe: ExecutionRow) -> bool:
    return exe.state.is_terminal or exe.state == State.PAUSED


def wait_for(execution_id: str, done: Callable[[ExecutionRow], bool], timeout: float | None) -> ExecutionRow:
    """Wait (woken by events published in this process, reading the database at least
    twice a second for changes made elsewhere)."""
    parts = infra()
    deadline = None if timeout is None else time.monotonic() + timeout
    seen = parts.changes.generation
    while True:
        exe = parts.store.get_execution(execution_id)
        if exe is None:
            raise Exit(EXIT_USAGE, f"error: execution {execution_id} is gone")
        if done(exe):
            return exe
        remaining = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
        if remaining <= 0:
            raise Exit(EXIT_TIMEOUT, f"Timed out waiting for execution {execution_id} (state {exe.state.value}); "
                                     "it goes on")
        seen = parts.changes.wait(seen, remaining)


def exit_code_for(exe: ExecutionRow) -> int:
    return EXIT_OK if exe.state in (State.SUCCESS, State.WARNING, State.PAUSED) else EXIT_FAILED


def print_execution(cmd: ChoreoCommand, exe: ExecutionRow, *, as_json: bool, logs: bool) -> None:
    data = execution_json(infra().store, exe, logs=logs)
    if as_json:
        cmd.emit_json(data)
        return
    out = cmd.stdout
    out.write(f"Execution {data['id']}  {data['namespace']}.{data['flowId']} rev {data['revision']}  {data['state']}")
    for run in data["taskRuns"]:
        value = f" [{run['value']}]" if run["value"] is not None else ""
        attempts = len(run["attempts"])
        tries = f" ({attempts} attempts)" if attempts > 1 else ""
        out.write(f"  {run['state']:<9} {run['taskId']}{value}{tries}")
    if data["outputs"]:
        out.write("Outputs: " + json.dumps(data["outputs"], ensure_ascii=False, default=str))
    for line in data.get("logs", []):
        task = f" {line['taskId']}" if line["taskId"] else ""
        out.write(f"{line['date']} {line['level']:<5}{task} {line['message']}")


# How long a command's engine lets running attempts finish when the command stops waiting
# (a --timeout, Ctrl-C) before it interrupts them; they then run again in another engine.
STOP_GRACE_SECONDS = 2.0


def run_engine_until(cmd: ChoreoCommand, begin: Callable[[str], ExecutionRow | None],
                     done: Callable[[ExecutionRow], bool], timeout: float | None) -> ExecutionRow | None:
    """Run an engine in this process, call ``begin(engine id)`` (which starts, resumes...
    an execution: an execution it creates is owned by this engine, so no other engine
    takes it while this command lives), then wait until ``done``. None when ``begin``
    returns None (nothing to wait for). Ctrl-C detaches: this engine hands over what it
    owns when it stops, and any other engine carries it on.

    An execution that ends RETRIED (retry behavior CREATE_NEW_EXECUTION) is not the outcome:
    the wait goes on with the execution that retries it, and so on; the last one is returned.
    """
    from orchestrator.engine import services
    from orchestrator.engine.runtime import Engine

    deadline = None if timeout is None else time.monotonic() + timeout
    engine = Engine.from_settings().start()
    try:
        exe = begin(engine.id)
        if exe is None:
            return None
        while True:
            cmd.detach_id = exe.id
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            exe = wait_for(exe.id, lambda e: e.state == State.RETRIED or done(e), left)
            if exe.state != State.RETRIED:
                return exe
            retry = services.retried_by(exe.id)
            if retry is None:  # not expected: the executor creates it as it ends this one
                return exe
            cmd.info(f"Execution {exe.id} ended RETRIED: execution {retry.id} retries it "
                     f"(attempt {retry.meta.get('attempt')}, starting at {retry.start_date.isoformat()})")
            exe = retry
    finally:
        engine.stop(STOP_GRACE_SECONDS)
