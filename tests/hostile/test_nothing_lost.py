"""Outputs and logs over their caps: the task fails or the log says what was dropped, never silence."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.cli import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def _run(cli: Cli, name: str, flow: str) -> dict:
    proc = cli("flows", "run", cli.flow(name, flow), "--json", "--logs", timeout=180)
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def _script(python: str) -> str:
    return ("    type: io.kestra.plugin.scripts.shell.Commands\n    commands:\n      - >-\n"
            f"        python3 -c \"{python}\"\n")


EMIT = "import json; print('::' + json.dumps({{'outputs': {{'blob': 'x' * {size}}}}}) + '::')"
USE = "  - id: use\n    type: log\n    message: \"{{ outputs.emit.vars.blob | length }}\"\n"


def test_an_outputs_line_over_the_cap_fails_the_task_naming_the_cap_and_the_size(cli: Cli) -> None:
    execution = _run(cli, "big.yaml", "id: big\nnamespace: t\ntasks:\n  - id: emit\n"
                     + _script(EMIT.format(size=5_000_000)) + USE)
    assert execution["state"] == "FAILED"
    assert [(run["taskId"], run["state"]) for run in execution["taskRuns"]] == [("emit", "FAILED")]
    errors = [line["message"] for line in execution["logs"] if line["level"] == "ERROR"]
    assert errors == [
        "The process wrote an outputs line (::{...}::) of 5,000,029 bytes, more than the 1,048,576 bytes a task's "
        "outputs may hold (CHOREO_OUTPUT_MAX); none of it was kept. Write large results to a file (outputFiles) "
        "and pass the file on instead"]
    # The giant line is not stored as a log line either.
    assert all(len(line["message"]) < 1000 for line in execution["logs"])


def test_outputs_within_a_raised_cap_are_kept_whole_even_past_the_default_line_length(cli: Cli) -> None:
    cli.env["CHOREO_OUTPUT_MAX"] = str(3 * 1024 * 1024)
    execution = _run(cli, "raised.yaml", "id: raised\nnamespace: t\ntasks:\n  - id: emit\n"
                     + _script(EMIT.format(size=2_000_000)) + USE)
    assert execution["state"] == "SUCCESS"
    assert [line["message"] for line in execution["logs"] if line["taskId"] == "use"] == ["2000000"]


def test_outputs_of_an_in_process_task_over_the_cap_fail_the_task(cli: Cli) -> None:
    cli.env["CHOREO_OUTPUT_MAX"] = "1000"
    execution = _run(cli, "ret.yaml", "id: ret\nnamespace: t\ntasks:\n  - id: big\n    type: return\n"
                     f"    format: {'y' * 2000}\n  - id: after\n    type: log\n    message: never\n")
    assert [(run["taskId"], run["state"]) for run in execution["taskRuns"]] == [("big", "FAILED")]
    errors = [line["message"] for line in execution["logs"] if line["level"] == "ERROR"]
    assert len(errors) == 1 and "more than the 1,000 bytes a task's outputs may hold (CHOREO_OUTPUT_MAX)" in errors[0]


def test_a_task_printing_200000_lines_stores_its_head_its_tail_and_how_many_were_dropped(cli: Cli) -> None:
    execution = _run(cli, "chatty.yaml", "id: chatty\nnamespace: t\ntasks:\n  - id: talk\n"
                     + _script("[print(f'line {i} ' + 'x' * 180) for i in range(200000)]"))
    assert execution["state"] == "SUCCESS"
    messages = [line["message"] for line in execution["logs"]]
    assert messages[:2] == ["line 0 " + "x" * 180, "line 1 " + "x" * 180]
    assert messages[9000] == ("[This attempt's log reached its cap: further lines are counted, and the last ones "
                              "are stored when the attempt ends]")
    assert messages[9001].startswith("[190,000 log lines (36,388,000 bytes) dropped here: an attempt stores at most "
                                     "10,000 lines and 4,194,304 bytes of log")
    assert messages[9002] == "line 199000 " + "x" * 180
    assert messages[-1] == "line 199999 " + "x" * 180
    assert len(messages) == 10_002
    database = sqlite3.connect(cli.tmp / "cli.sqlite3")
    stored = database.execute("select count(*), sum(length(message)) from flows_logentry").fetchone()
    assert stored[0] == 10_002 and stored[1] < 2_000_000


def test_the_log_cap_counts_bytes_too(cli: Cli) -> None:
    cli.env["CHOREO_TASK_LOG_MAX_BYTES"] = "100000"
    execution = _run(cli, "wide.yaml", "id: wide\nnamespace: t\ntasks:\n  - id: talk\n"
                     + _script("[print(str(i) * 1000) for i in range(1000)]"))
    messages = [line["message"] for line in execution["logs"]]
    assert sum(len(m) for m in messages) < 110_000
    assert any(m.startswith("[") and "lines" in m and "dropped here" in m for m in messages)
    assert messages[-1] == "999" * 1000
