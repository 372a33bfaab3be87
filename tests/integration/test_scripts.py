"""Shell and Python script tasks end to end: real processes, real engine, no mocks."""
from __future__ import annotations

import base64
import os
import re
import time
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings

from flows.models import Execution, LogEntry
from orchestrator.engine import services
from orchestrator.engine.tasks import pyenvs
from tests.helpers import Runner, terminal
from tests.wheels import write_wheel



def _pids(runner: Runner, exe: Execution) -> list[int]:
    return [int(m) for text in runner.messages(exe) for m in re.findall(r"^pid (\d+)$", text)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a killed orphan may stay a zombie if PID 1 does not reap: it runs no more
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _assert_all_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + 2
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p for p in pids if _alive(p)] == []


def _secret(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(f"SECRET_{name}", base64.b64encode(value.encode()).decode())


# --- shell: logs and outputs -------------------------------------------------------------------
def test_stdout_lines_are_info_logs_and_stderr_lines_warn_logs_in_order(runner: Runner) -> None:
    exe = runner.run("""
        id: sh_logs
        namespace: t
        tasks:
          - id: sh
            type: io.kestra.plugin.scripts.shell.Commands
            warningOnStdErr: false
            commands:
              - echo one
              - sleep 0.3; echo two >&2
              - sleep 0.3; echo three
    """)
    assert exe.state == "SUCCESS"
    assert [(e.level, e.message) for e in runner.logs(exe)] == [("INFO", "one"), ("WARN", "two"), ("INFO", "three")]
    assert runner.taskrun(exe, "sh").outputs == {"exitCode": 0, "vars": {}, "outputFiles": {}}


def test_lines_reach_the_database_while_the_process_runs(runner: Runner) -> None:
    exe = runner.run("""
        id: sh_stream
        namespace: t
        tasks:
          - {id: sh, type: shell, commands: ["echo first", "sleep 2", "echo second"]}
    """, wait=False)
    deadline = time.monotonic() + 10
    while not LogEntry.objects.filter(execution_id=exe.id, message="first").exists():
        assert time.monotonic() < deadline, "the first line never arrived"
        time.sleep(0.05)
    assert runner.taskrun(exe, "sh").state == "RUNNING"
    assert not LogEntry.objects.filter(execution_id=exe.id, message="second").exists()
    assert runner.wait(exe, terminal).state == "SUCCESS"


def test_an_outputs_line_becomes_vars_and_metrics_and_a_malformed_one_is_logged(runner: Runner) -> None:
    exe = runner.run("""
        id: sh_outputs
        namespace: t
        tasks:
          - id: sh
            type: shell
            commands:
              - echo '::{"outputs":{"rows":3,"name":"x"}}::'
              - echo '::{"outputs":{"more":true},"metrics":[{"name":"rows","type":"counter","value":3}]}::'
              - echo '::{"metrics":{"rows":2}}::'
              - echo '::{not json}::'
          - {id: after, type: return, format: "{{ outputs.sh.vars.rows }} {{ outputs.sh.vars.more }}"}
    """)
    assert exe.state == "SUCCESS"
    run = runner.taskrun(exe, "sh")
    assert run.outputs["vars"] == {"rows": 3, "name": "x", "more": True}
    assert run.meta["metrics"] == {"rows": {"type": "counter", "value": 5, "tags": {}}}
    assert runner.messages(exe) == ["::{not json}::"]
    assert runner.taskrun(exe, "after").outputs == {"value": "3 true"}


def test_a_non_zero_exit_fails_the_task_with_the_code_in_the_log(runner: Runner) -> None:
    exe = runner.run("""
        id: sh_fail
        namespace: t
        tasks:
          - {id: sh, type: shell, commands: ["echo before", "exit 3", "echo never"]}
    """)
    assert exe.state == "FAILED"
    assert runner.messages(exe) == ["before", "Command failed with exit code 3"]
    assert runner.logs(exe)[-1].level == "ERROR"


def test_without_fail_fast_every_command_runs_and_the_last_decides(runner: Runner) -> None:
    exe = runner.run("""
        id: sh_nofailfast
        namespace: t
        tasks:
          - {id: sh, type: shell, failFast: false, commands: ["false", "echo still"]}
    """)
    assert exe.state == "SUCCESS"
    assert runner.messages(exe) == ["still"]


def test_invalid_utf8_is_replaced_and_a_very_long_line_is_cut_with_a_marker(runner: Runner) -> None:
    exe = runner.run(r"""
        id: sh_bytes
        namespace: t
        tasks:
          - id: sh
            type: shell
            commands:
              - printf 'bad \377\376 bytes\n'
              - head -c 200000 /dev/zero | tr '\0' 'a'; echo
              - echo after
    """)
    assert exe.state == "SUCCESS"
    bad, long, after = runner.messages(exe)
    assert bad == "bad \ufffd\ufffd bytes"
    assert long.startswith("a" * 1000) and long.endswith("… [line cut: 167232 more bytes]")
    assert len(long) < 40_000
    assert after == "after"


# --- files and folders -------------------------------------------------------------------------
def test_output_files_are_stored_and_later_tasks_read_them(runner: Runner) -> None:
    exe = runner.run("""
        id: sh_files
        namespace: t
        tasks:
          - id: make
            type: shell
            outputFiles: ["*.txt", "sub/**/*.csv"]
            commands:
              - echo hello > out.txt
              - mkdir -p sub/deep && echo a,b > sub/deep/data.csv
              - echo ignored > other.log
          - id: use
            type: shell
            inputFiles:
              copy.txt: "{{ outputs.make.outputFiles['out.txt'] }}"
              note.txt: "made by {{ flow.id }}"
            commands: ["cat copy.txt note.txt"]
          - {id: show, type: return, format: "{{ read(outputs.make.outputFiles['sub/deep/data.csv']) }}"}
    """)
    assert exe.state == "SUCCESS"
    files = runner.taskrun(exe, "make").outputs["outputFiles"]
    assert sorted(files) == ["out.txt", "sub/deep/data.csv"]
    assert all(uri.startswith("choreo://") for uri in files.values())
    assert runner.messages(exe) == ["hello", "made by sh_files"]
    assert runner.taskrun(exe, "show").outputs == {"value": "a,b\n"}


def test_input_files_may_be_a_json_object_text(runner: Runner) -> None:
    exe = runner.run("""
        id: sh_json_inputs
        namespace: t
        tasks:
          - id: sh
            type: shell
            inputFiles: '{"a.txt": "from json"}'
            commands: ["cat a.txt"]
    """)
    assert exe.state == "SUCCESS"
    assert runner.messages(exe) == ["from json"]


def test_the_working_dir_is_the_attempts_folder_and_is_removed_afterwards(runner: Runner) -> None:
    exe = runner.run("""
        id: sh_workdir
        namespace: t
        tasks:
          - id: sh
            type: shell
            commands: ["echo '{{ workingDir }}'", "pwd"]
    """)
    assert exe.state == "SUCCESS"
    rendered, pwd = runner.messages(exe)
    assert rendered == pwd
    assert not Path(pwd).exists()


def test_a_retry_runs_a_fresh_process_in_a_fresh_folder(runner: Runner) -> None:
    exe = runner.run("""
        id: sh_retry
        namespace: t
        tasks:
          - id: sh
            type: shell
            retry: {type: constant, interval: PT0.1S, maxAttempt: 2}
            commands:
              - if [ -e marker ]; then echo stale; fi
              - touch marker
              - echo "attempt {{ taskrun.attemptsCount }} pid $$"
              - exit 1
    """)
    assert exe.state == "FAILED"
    lines = [m for m in runner.messages(exe) if m.startswith(("attempt", "stale"))]
    assert [line.split(" pid ")[0] for line in lines] == ["attempt 0", "attempt 1"]
    assert lines[0].split(" pid ")[1] != lines[1].split(" pid ")[1]
    assert [e.attempt for e in runner.logs(exe) if e.message.startswith("attempt")] == [1, 2]


def test_children_of_a_working_directory_share_its_folder(runner: Runner) -> None:
    exe = runner.run("""
        id: shared
        namespace: t
        tasks:
          - id: ws
            type: io.kestra.plugin.core.flow.WorkingDirectory
            tasks:
              - {id: write, type: shell, commands: ["echo shared > note.txt", "pwd"]}
              - {id: read, type: python, script: "print(open('note.txt').read().strip())"}
    """)
    assert exe.state == "SUCCESS"
    folder, content = runner.messages(exe)
    assert content == "shared"
    assert not Path(folder).exists()


# --- stopping ------------------------------------------------------------------------------------
_SPAWNER = """
              - sleep 300 &
              - echo "pid $!"
              - sleep 300 &
              - echo "pid $!"
              - echo "pid $$"
              - wait
"""


def test_a_timeout_fails_the_task_and_leaves_no_process_behind(runner: Runner) -> None:
    started = time.monotonic()
    exe = runner.run("""
        id: sh_timeout
        namespace: t
        tasks:
          - id: sh
            type: shell
            timeout: PT1S
            commands:""" + _SPAWNER, timeout=15)
    assert time.monotonic() - started < 5
    assert exe.state == "FAILED"
    assert runner.states(exe) == {"sh": "FAILED"}
    assert any("timed out" in m for m in runner.messages(exe))
    pids = _pids(runner, exe)
    assert len(pids) == 3
    _assert_all_gone(pids)


def test_a_kill_ends_the_task_killed_and_leaves_no_process_behind(runner: Runner) -> None:
    exe = runner.run("""
        id: sh_kill
        namespace: t
        tasks:
          - id: sh
            type: shell
            commands:""" + _SPAWNER, wait=False)
    runner.wait(exe, lambda e: len(_pids(runner, e)) == 3)
    started = time.monotonic()
    services.kill(str(exe.id))
    exe = runner.wait(exe, terminal, timeout=10)
    assert time.monotonic() - started < 5
    assert exe.state == "KILLED" and runner.states(exe) == {"sh": "KILLED"}
    _assert_all_gone(_pids(runner, exe))


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace(runner: Runner) -> None:
    exe = runner.run("""
        id: sh_stubborn
        namespace: t
        tasks:
          - id: sh
            type: shell
            timeout: PT0.5S
            commands: ["trap '' TERM", "echo pid $$", "while true; do sleep 0.1; done"]
    """, timeout=15)
    assert exe.state == "FAILED"
    _assert_all_gone(_pids(runner, exe))


def test_children_left_running_when_the_script_ends_are_killed(runner: Runner) -> None:
    exe = runner.run("""
        id: sh_orphans
        namespace: t
        tasks:
          - id: sh
            type: shell
            commands: ["sleep 300 &", "echo pid $!", "(sleep 300 > /dev/null 2>&1 & echo pid $!)"]
    """, timeout=15)
    assert exe.state == "SUCCESS"
    _assert_all_gone(_pids(runner, exe))


# --- warnings ------------------------------------------------------------------------------------
def test_writing_on_stderr_ends_in_warning_unless_turned_off(runner: Runner) -> None:
    exe = runner.run("""
        id: sh_warn
        namespace: t
        tasks:
          - {id: noisy, type: shell, commands: ["echo careful >&2"]}
          - {id: quiet, type: shell, warningOnStdErr: false, commands: ["echo careful >&2"]}
    """)
    assert runner.states(exe) == {"noisy": "WARNING", "quiet": "SUCCESS"}
    assert runner.taskrun(exe, "noisy").outputs["exitCode"] == 0


# --- secrets -------------------------------------------------------------------------------------
def test_a_secret_in_env_is_masked_in_every_form(runner: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    _secret(monkeypatch, "API_TOKEN", 'tok-"12\\34"')
    _secret(monkeypatch, "CERT", "line-one-abc\nline-two-def")
    exe = runner.run("""
        id: sh_secret
        namespace: t
        tasks:
          - id: sh
            type: shell
            env:
              TOKEN: "{{ secret('API_TOKEN') }}"
              CERT: "{{ secret('CERT') }}"
            commands:
              - printf 'token=%s\\n' "$TOKEN"
              - printf '%s\\n' "$CERT"
              - python3 -c 'import json,os;print(json.dumps(os.environ["TOKEN"]))'
              - env | grep -c '^SECRET_' || true
    """)
    assert exe.state == "SUCCESS"
    assert runner.messages(exe) == ["token=********", "********", "********", '"********"', "0"]


def test_an_unknown_secret_fails_the_task_with_a_clear_message(runner: Runner) -> None:
    exe = runner.run("""
        id: sh_nosecret
        namespace: t
        tasks:
          - {id: sh, type: shell, env: {TOKEN: "{{ secret('NOPE') }}"}, commands: ["echo never"]}
    """)
    assert exe.state == "FAILED"
    assert any("secret 'NOPE' not found" in m for m in runner.messages(exe))


def test_a_secret_file_is_read_and_masked(runner: Runner, monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    (tmp_path / "x").write_text("from-a-file-42\n")
    monkeypatch.setenv("SECRET_X_FILE", str(tmp_path / "x"))
    exe = runner.run("""
        id: sh_secret_file
        namespace: t
        tasks:
          - id: sh
            type: shell
            env: {X: "{{ secret('X') }}"}
            commands: ['[ "$X" = from-a-file-42 ] && echo "match $X"']
    """)
    assert exe.state == "SUCCESS"
    assert runner.messages(exe) == ["match ********"]


# --- python --------------------------------------------------------------------------------------
def test_a_python_script_sends_outputs_with_the_kestra_and_choreo_helpers(runner: Runner) -> None:
    exe = runner.run("""
        id: py
        namespace: t
        tasks:
          - id: py
            type: io.kestra.plugin.scripts.python.Script
            beforeCommands: ["echo before"]
            script: |
              import choreo
              from kestra import Kestra
              print("flow {{ flow.id }}")
              Kestra.outputs({"a": 1})
              choreo.outputs({"b": [1, 2]})
              Kestra.counter("rows", 5, {"table": "x"})
              Kestra.timer("step", lambda: None)
          - id: cmd
            type: python_commands
            inputFiles: {main.py: "import sys; print(sys.argv[1])"}
            commands: ["python main.py hi"]
    """)
    assert exe.state == "SUCCESS"
    run = runner.taskrun(exe, "py")
    assert run.outputs["vars"] == {"a": 1, "b": [1, 2]}
    assert run.meta["metrics"]["rows"] == {"type": "counter", "value": 5, "tags": {"table": "x"}}
    assert run.meta["metrics"]["step"]["type"] == "timer"
    assert runner.messages(exe) == ["before", "flow py", "hi"]
    assert run.outputs["outputFiles"] == {}


@pytest.fixture
def offline_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Path:
    settings.CHOREO_DATA_DIR = tmp_path / "data"
    write_wheel(tmp_path / "wheels")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "wheels"))
    return tmp_path / "data" / "venvs"


_PROBE = """
          - id: {id}
            type: python
            dependencies: ["Choreo_Probe==1.0"]
            script: |
              import choreo_probe, sys
              print("value", choreo_probe.VALUE, sys.prefix)
"""


def _builds(runner: Runner, exe: Execution) -> int:
    return sum(m.startswith("Building a Python environment") for m in runner.messages(exe))


def test_dependencies_are_installed_in_a_cached_environment_reused_by_later_runs(
        runner: Runner, offline_index: Path) -> None:
    flow = "id: py_deps\nnamespace: t\ntasks:" + _PROBE.format(id="py")
    first = runner.run(flow, timeout=120)
    assert first.state == "SUCCESS", runner.messages(first)
    key = pyenvs.environment_key(["choreo-probe==1.0"])
    marker = offline_index / key / pyenvs.READY
    assert _builds(runner, first) == 1 and f"value 42 {offline_index / key}" in runner.messages(first)
    built = marker.stat().st_mtime_ns
    second = runner.run(flow, timeout=60)
    assert second.state == "SUCCESS"
    assert _builds(runner, second) == 0 and f"value 42 {offline_index / key}" in runner.messages(second)
    assert marker.stat().st_mtime_ns == built


def test_two_tasks_asking_for_the_same_dependencies_at_once_build_them_once(
        runner: Runner, offline_index: Path) -> None:
    exe = runner.run("""
        id: py_parallel
        namespace: t
        tasks:
          - id: both
            type: parallel
            tasks:""" + _PROBE.format(id="a").replace("\n", "\n    ") + _PROBE.format(id="b").replace("\n", "\n    "),
        timeout=120)
    assert exe.state == "SUCCESS", runner.messages(exe)
    assert _builds(runner, exe) == 1
    assert sum(m.startswith("value 42") for m in runner.messages(exe)) == 2
    assert [p.name for p in offline_index.iterdir() if p.is_dir()] == [pyenvs.environment_key(["choreo-probe==1.0"])]


def test_a_failed_install_fails_the_task_with_pips_error_and_leaves_nothing(
        runner: Runner, offline_index: Path) -> None:
    exe = runner.run("""
        id: py_missing
        namespace: t
        tasks:
          - {id: py, type: python, dependencies: ["choreo-missing==9"], script: "print('never')"}
    """, timeout=120)
    assert exe.state == "FAILED"
    messages = runner.messages(exe)
    assert any("No matching distribution found for choreo-missing==9" in m for m in messages)
    assert "never" not in messages
    assert "Building the Python environment failed while installing the dependencies" in messages[-1]
    assert not (offline_index / pyenvs.environment_key(["choreo-missing==9"])).exists()
