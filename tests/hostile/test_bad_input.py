"""Numbers, durations and files a hostile or careless author writes get FILE:LINE:COL errors, never a traceback."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.cli import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def _flow(task: str) -> str:
    return "id: hostile\nnamespace: t\ntasks:\n  - id: x\n" + task


RETRY = "    type: log\n    message: hi\n    retry:\n      type: constant\n      interval: PT1S\n      maxAttempt: {}\n"
SLEEP = "    type: io.kestra.plugin.core.flow.Sleep\n    duration: {}\n"


@pytest.mark.parametrize(("task", "line", "column", "says"), [
    (RETRY.format("9" * 4301), 10, 19, "Invalid number: more than 4300 digits"),
    (RETRY.format("99999999999"), 10, 19, "less than or equal to 2147483647"),
    (SLEEP.format("PT99999999999999999999S"), 6, 15, "a duration may be at most 100 years"),
    (SLEEP.format("PT" + "9" * 5000 + "S"), 6, 15, "a duration may be at most 100 years"),
    (SLEEP.format("P999999999D"), 6, 15, "a duration may be at most 100 years"),
    (SLEEP.format("1.0e+300"), 6, 15, "a duration may be at most 100 years"),
    (SLEEP.format("-P36501D"), 6, 15, "a duration may be at most 100 years"),
], ids=["4301-digit-count", "count-beyond-java-int", "20-digit-seconds", "5000-digit-seconds",
        "billion-days", "1e300-seconds", "negative-century"])
def test_an_out_of_range_number_is_a_validation_error_at_its_line_and_column(
        cli: Cli, task: str, line: int, column: int, says: str) -> None:
    path = cli.flow("hostile.yaml", _flow(task))
    proc = cli("flows", "validate", path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout.startswith(f"{path}:{line}:{column}: ")
    assert says in proc.stdout
    # A long number is quoted cut short, not 5,000 digits back at the user.
    assert all(len(row) < 400 for row in proc.stdout.splitlines())


def test_a_duration_rendered_out_of_range_fails_the_task_with_the_reason(cli: Cli) -> None:
    path = cli.flow("sleepy.yaml", "id: sleepy\nnamespace: t\ninputs:\n  - id: wait\n    type: STRING\n"
                    "    defaults: P999999999D\ntasks:\n  - id: nap\n"
                    "    type: io.kestra.plugin.core.flow.Sleep\n    duration: \"{{ inputs.wait }}\"\n")
    proc = cli("flows", "run", path, "--json", "--logs", timeout=90)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    execution = json.loads(proc.stdout)
    assert [run["state"] for run in execution["taskRuns"]] == ["FAILED"]
    assert [line["message"] for line in execution["logs"] if line["level"] == "ERROR"] == [
        "Invalid duration '{{ inputs.wait }}': it rendered to 'P999999999D', "
        "too large: a duration may be at most 100 years (P36500D)"]


@pytest.mark.parametrize(("content", "line", "column", "byte"), [
    (bytes(range(256)) * 4, 2, 118, "0x80"),
    ("id: café\nnamespace: t\n".encode("latin-1"), 1, 8, "0xe9"),
    ("id: hé\nnamespace: tâ\xff".encode("utf-8").replace(b"\xc3\xbf", b"\xff"), 2, 14, "0xff"),
], ids=["binary", "latin-1", "bad-byte-after-accents"])
def test_a_file_that_is_not_utf8_is_an_invalid_flow_at_the_first_bad_byte(
        cli: Cli, tmp_path: Path, content: bytes, line: int, column: int, byte: str) -> None:
    path = tmp_path / "not-text.yaml"
    path.write_bytes(content)
    proc = cli("flows", "validate", str(path))
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith(f"{path}:{line}:{column}: the file is not UTF-8 text: byte {byte}")


def test_validate_goes_on_past_a_file_that_is_not_utf8(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes(b"\xff\xfe")
    (tmp_path / "b.yaml").write_text("id: b\nnamespace: t\ntasks:\n  - id: x\n    type: nope\n")
    proc = cli("flows", "validate", "--json", str(tmp_path))
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["files"] == 2
    assert [e["file"].rsplit("/", 1)[-1] for e in report["errors"]] == ["a.yaml", "b.yaml"]


def test_an_input_the_flow_does_not_declare_is_named_in_a_warning(cli: Cli) -> None:
    path = cli.flow("greet.yaml", "id: greet\nnamespace: t\ninputs:\n  - id: name\n    type: STRING\n"
                    "    defaults: you\ntasks:\n  - id: hi\n    type: log\n    message: \"hi {{ inputs.name }}\"\n")
    proc = cli("flows", "run", path, "--input", "nmae=Ada", "--input", "name=Bob", timeout=90)
    assert proc.returncode == 0, proc.stderr
    assert ("warning: --input nmae: flow t.greet has no input 'nmae' (its inputs: name); "
            "the value is ignored") in proc.stderr
    assert "--input name" not in proc.stderr


# Found by tests/hostile/test_fuzz.py.
@pytest.mark.parametrize(("text", "line", "column", "says"), [
    ("id: f\nnamespace: t\ninputs:\n  - id: name\n    type: STRING\n    defaults: world\n    validator: '*a'\n"
     "tasks:\n  - {id: x, type: log, message: hi}\n", 7, 16, "validator is not a valid regular expression"),
    ("id: f\nnamespace: t\nlabels:\n  - key: []\n    value: data\ntasks:\n  - {id: x, type: log, message: hi}\n",
     4, 3, "a label's key must be text, got list"),
], ids=["invalid-validator-with-defaults", "label-key-a-list"])
def test_fuzzed_flows_that_raised_are_validation_errors(cli: Cli, text: str, line: int, column: int,
                                                        says: str) -> None:
    path = cli.flow("fuzzed.yaml", text)
    proc = cli("flows", "validate", path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout.startswith(f"{path}:{line}:{column}: "), proc.stdout
    assert says in proc.stdout


def test_a_backtracking_validator_cannot_freeze_the_process_on_a_crafted_value(cli: Cli) -> None:
    path = cli.flow("redos.yaml", "id: redos\nnamespace: t\ninputs:\n  - id: name\n    type: STRING\n"
                    "    validator: '(a|aa)+$'\ntasks:\n  - {id: x, type: log, message: '{{ inputs.name }}'}\n")
    started = time.monotonic()
    proc = cli("flows", "run", path, "--input", "name=" + "a" * 60 + "!")
    assert time.monotonic() - started < 15  # Python's re alone: hours
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "took longer than 1 s on this value" in proc.stderr
