"""The command line contract, through real processes on a fresh database each test."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import ROOT, Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


HELLO = """id: hello
namespace: t
inputs:
  - id: n
    type: INT
    defaults: 1
tasks:
  - id: say
    type: log
    message: "n={{ inputs.n }}"
  - id: ret
    type: return
    format: "{{ inputs.n + 1 }}"
outputs:
  - id: next
    type: INT
    value: "{{ outputs.ret.value }}"
"""


def test_validate_prints_file_line_column_for_each_error_and_exits_1(cli: Cli) -> None:
    bad = cli.flow("bad.yaml", "id: bad\nnamespace: t\ntasks:\n  - id: a\n    type: nope.Nope\n  - id: a\n    type: log\n    message: x\n")
    proc = cli("flows", "validate", bad)
    assert proc.returncode == 1
    lines = proc.stdout.strip().splitlines()
    assert len(lines) >= 2
    assert all(line.startswith(f"{bad}:") for line in lines)
    assert any(":5:" in line and "nope.Nope" in line for line in lines), lines


def test_validate_exits_0_for_valid_flows(cli: Cli) -> None:
    proc = cli("flows", "validate", str(ROOT / "flows" / "examples"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == ""


def test_run_prints_one_json_document_with_the_documented_shape(cli: Cli) -> None:
    proc = cli("flows", "run", cli.flow("hello.yaml", HELLO), "--input", "n=41", "--json", "--logs")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) >= {"id", "namespace", "flowId", "revision", "state", "stateHistory", "startDate", "endDate",
                        "inputs", "outputs", "labels", "taskRuns", "logs"}
    assert doc["state"] == "SUCCESS"
    assert doc["inputs"] == {"n": 41}
    assert doc["outputs"] == {"next": 42}
    assert [h["state"] for h in doc["stateHistory"]] == ["CREATED", "RUNNING", "SUCCESS"]
    assert doc["startDate"].endswith("Z")
    run = doc["taskRuns"][0]
    assert set(run) >= {"id", "taskId", "parentTaskRunId", "value", "state", "attempts", "outputs"}
    assert set(run["attempts"][0]) == {"state", "startDate", "endDate"}
    assert [line["message"] for line in doc["logs"]] == ["n=41"]
    assert set(doc["logs"][0]) >= {"seq", "taskRunId", "level", "date", "message"}
    assert doc["labels"] == {"system.correlationId": doc["id"]}


def test_bad_input_exits_2_with_a_message_naming_the_input(cli: Cli) -> None:
    proc = cli("flows", "run", cli.flow("hello.yaml", HELLO), "--input", "n=abc")
    assert proc.returncode == 2
    assert "n" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_an_invalid_flow_exits_2(cli: Cli) -> None:
    proc = cli("flows", "run", cli.flow("bad.yaml", "id: x\nnamespace: t\ntasks: []\n"))
    assert proc.returncode == 2
    assert "tasks" in proc.stderr


def test_a_failed_execution_exits_1(cli: Cli) -> None:
    proc = cli("flows", "run", cli.flow("f.yaml", "id: f\nnamespace: t\ntasks:\n  - id: x\n    type: fail\n"),
               "--json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["state"] == "FAILED"


RETRIED_AS_NEW = """id: again
namespace: t
retry:
  behavior: CREATE_NEW_EXECUTION
  type: constant
  interval: PT0.2S
  maxAttempts: 2
tasks:
  - id: x
    type: fail
"""


def test_run_follows_create_new_execution_retries_and_reports_the_last_execution(cli: Cli) -> None:
    proc = cli("flows", "run", cli.flow("again.yaml", RETRIED_AS_NEW), "--json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["state"] == "FAILED"
    first = doc["labels"]["system.correlationId"]
    assert doc["originalId"] == first != doc["id"]
    assert f"Execution {first} ended RETRIED: execution {doc['id']} retries it (attempt 2" in proc.stderr
    shown = json.loads(cli("executions", "show", first, "--json").stdout)
    assert shown["state"] == "RETRIED" and shown["taskRuns"][0]["state"] == "RETRIED"


def test_an_expired_timeout_exits_3(cli: Cli) -> None:
    flow = cli.flow("s.yaml", "id: s\nnamespace: t\ntasks:\n  - id: nap\n    type: sleep\n    duration: PT20S\n")
    proc = cli("flows", "run", flow, "--timeout", "1")
    assert proc.returncode == 3
    assert "goes on" in proc.stderr


def test_unknown_execution_ids_exit_2(cli: Cli) -> None:
    for args in (("executions", "show", "00000000-0000-0000-0000-000000000000"),
                 ("executions", "wait", "not-an-id"), ("executions", "resume", "not-an-id")):
        proc = cli(*args)
        assert proc.returncode == 2, args
        assert "No execution" in proc.stderr and "Traceback" not in proc.stderr


def test_pause_resume_twice_through_the_cli(cli: Cli) -> None:
    flow = cli.flow("p.yaml", "id: p\nnamespace: t\ntasks:\n  - id: gate\n    type: pause\n"
                              "  - id: after\n    type: return\n    format: ok\n")
    paused = json.loads(cli("flows", "run", flow, "--json").stdout)
    assert paused["state"] == "PAUSED"
    first = cli("executions", "resume", paused["id"], "--json")
    assert first.returncode == 0 and json.loads(first.stdout)["state"] == "SUCCESS"
    second = cli("executions", "resume", paused["id"], "--json")
    assert second.returncode == 0
    assert "nothing to resume" in second.stderr
    assert json.loads(second.stdout)["state"] == "SUCCESS"


def test_deploy_makes_a_new_revision_only_when_the_text_changes(cli: Cli) -> None:
    path = cli.flow("hello.yaml", HELLO)
    assert "revision 1 deployed" in cli("flows", "deploy", path).stdout
    assert "revision 1 unchanged" in cli("flows", "deploy", path).stdout
    Path(path).write_text(HELLO + "# a comment\n")
    assert "revision 2 deployed" in cli("flows", "deploy", path).stdout
    listing = json.loads(cli("flows", "list", "--json").stdout)
    assert listing == [{"namespace": "t", "id": "hello", "revision": 2, "disabled": False}]


def test_schema_prints_json_schema_with_every_task_type(cli: Cli) -> None:
    proc = cli("flows", "schema")
    schema = json.loads(proc.stdout)
    text = json.dumps(schema)
    for name in ("io.kestra.plugin.core.log.Log", "io.kestra.plugin.core.flow.ForEach", "subflow", "dag"):
        assert name in text


SLOW = """id: slow
namespace: t
tasks:
  - id: before
    type: log
    message: first line
  - id: nap
    type: sleep
    duration: PT1.5S
  - id: after
    type: log
    message: last line
"""


def _start(cli: Cli, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=cli.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _created_id(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("Execution ") and line.rstrip().endswith("created"):
            return line.split()[1]
    raise AssertionError("the run command never said it created an execution")


def test_logs_follow_prints_lines_as_they_come_and_stops_at_the_end(cli: Cli) -> None:
    runner = _start(cli, "flows", "run", cli.flow("slow.yaml", SLOW))
    execution_id = _created_id(runner)
    follow = cli("executions", "logs", execution_id, "--follow")
    runner.wait(timeout=60)
    assert follow.returncode == 0
    lines = follow.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("INFO  before first line") and lines[1].endswith("INFO  after last line")


def test_ctrl_c_while_waiting_detaches_and_the_execution_goes_on(cli: Cli) -> None:
    import signal

    runner = _start(cli, "flows", "run", cli.flow("slow.yaml", SLOW))
    execution_id = _created_id(runner)
    runner.send_signal(signal.SIGINT)
    _, stderr = runner.communicate(timeout=60)
    assert runner.returncode == 0
    assert "Detached" in stderr and "goes on" in stderr
    done = cli("executions", "wait", execution_id, "--json", "--timeout", "60")
    assert json.loads(done.stdout)["state"] == "SUCCESS"
