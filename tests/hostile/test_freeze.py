"""No expression freezes the server: a jq program that never ends, in a real `serve` process."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx

from tests.cli import Cli, Server, serving

FOREVER = """
id: forever
namespace: hostile
tasks:
  - id: spin
    type: log
    timeout: PT2S
    message: "{{ 1 | jq('def f: f; f') }}"
"""


def _health_within(server: Server, seconds: float) -> float:
    started = time.monotonic()
    answer = httpx.get(f"{server.url}/health", timeout=seconds)
    assert answer.status_code == 200
    return time.monotonic() - started


def _execution(cli: Cli) -> dict[str, object]:
    listed = cli("executions", "list", "--json")
    [execution] = json.loads(listed.stdout)
    shown = cli("executions", "show", str(execution["id"]), "--json")
    return json.loads(shown.stdout)  # type: ignore[no-any-return]


def test_a_jq_program_that_never_ends_leaves_the_server_answering_and_fails_at_the_task_timeout(
        tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    with serving(cli) as server:
        # The command gives up after a second; the server takes the execution over.
        ran = cli("flows", "run", cli.flow("forever.yaml", FOREVER), "--timeout", "1")
        assert ran.returncode == 3, ran.stderr
        deadline = time.monotonic() + 30
        while (execution := _execution(cli))["state"] not in ("FAILED", "SUCCESS"):
            assert _health_within(server, 1.0) < 1.0
            assert time.monotonic() < deadline, execution
            time.sleep(0.2)
    [run] = execution["taskRuns"]  # type: ignore[misc]
    assert (execution["state"], run["state"]) == ("FAILED", "FAILED")
    logs = cli("executions", "logs", str(execution["id"])).stdout
    assert "Task [spin] timed out after PT2S" in logs, logs


def test_the_server_stops_on_sigterm_while_a_jq_program_runs(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    endless = FOREVER.replace("    timeout: PT2S\n", "")
    with serving(cli) as server:
        ran = cli("flows", "run", cli.flow("forever.yaml", endless), "--timeout", "1")
        assert ran.returncode == 3, ran.stderr
        time.sleep(1.5)  # the server has taken the execution over and runs the program
        assert _health_within(server, 1.0) < 1.0
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=15)
        assert time.monotonic() - started < 8
