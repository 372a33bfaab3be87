"""A task's processes cannot read the server's environment, memory or data.

Run through the command line, as a user runs it. The task-user tests need root (only root
starts processes as another user); `make test` creates the user when it runs as root and
says so in CHOREO_TEST_TASK_USER.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import Cli
from tests.wheels import write_wheel

TASK_USER = os.environ.get("CHOREO_TEST_TASK_USER", "")
needs_task_user = pytest.mark.skipif(
    not TASK_USER, reason="running tasks as another user needs root (make test as root sets CHOREO_TEST_TASK_USER)")

SNOOP = """
id: snoop
namespace: hostile
tasks:
  - id: look
    type: io.kestra.plugin.scripts.shell.Commands
    failFast: false
    warningOnStdErr: false
    commands:
      - echo "user=$(id -un)"
      - tr '\\0' '\\n' < /proc/$PPID/environ || echo "parent environ refused"
      - tr '\\0' '\\n' < /proc/1/environ || echo "init environ refused"
      - cat {data}/secret_key || echo "secret key refused"
      - ls {data} || echo "data dir listing refused"
      - head -c 200 {data}/choreo.sqlite3 || echo "database refused"
      - env
"""


def _logs(cli: Cli, flow: str) -> tuple[dict[str, object], str]:
    ran = cli("flows", "run", flow, "--json", "--logs")
    assert ran.returncode == 0, ran.stderr
    execution = json.loads(ran.stdout)
    return execution, "\n".join(line["message"] for line in execution["logs"])


@pytest.fixture
def reachable_tmp() -> Iterator[Path]:
    """A folder the task user can pass through (pytest's own live under a root-only one)."""
    path = Path(tempfile.mkdtemp(prefix="choreo-isolation-", dir="/tmp"))
    os.chmod(path, 0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _cli(tmp: Path, task_user: str) -> Cli:
    cli = Cli(tmp)
    data = tmp / "data"
    cli.env.update({"DATABASE_URL": f"sqlite:///{data / 'choreo.sqlite3'}", "CHOREO_DATA_DIR": str(data),
                    "CHOREO_TASK_USER": task_user, "SECRET_API_TOKEN": "czNjcjN0LXZhbHVl",
                    "SERVER_ONLY_SETTING": "server-only-value"})
    return cli


def test_a_script_sees_none_of_the_servers_environment(tmp_path: Path) -> None:
    cli = _cli(tmp_path, "")
    flow = cli.flow("env.yaml", "id: env\nnamespace: hostile\ntasks:\n"
                                "  - {id: env, type: io.kestra.plugin.scripts.shell.Commands, commands: [env]}\n")
    execution, logs = _logs(cli, flow)
    names = {line.split("=", 1)[0] for line in logs.splitlines() if "=" in line}
    assert execution["state"] == "SUCCESS"
    for leaked in ("DATABASE_URL", "CHOREO_DATA_DIR", "SECRET_API_TOKEN", "SERVER_ONLY_SETTING"):
        assert leaked not in names
    assert {"PATH", "HOME", "TMPDIR"} <= names


@needs_task_user
def test_a_script_run_as_the_task_user_cannot_read_the_server_or_its_data(reachable_tmp: Path) -> None:
    cli = _cli(reachable_tmp, TASK_USER)
    data = reachable_tmp / "data"
    execution, logs = _logs(cli, cli.flow("snoop.yaml", SNOOP.format(data=data)))
    assert execution["state"] == "SUCCESS"
    assert f"user={TASK_USER}" in logs
    for refused in ("parent environ refused", "init environ refused", "secret key refused",
                    "data dir listing refused", "database refused"):
        assert refused in logs, logs
    secret_key = (data / "secret_key").read_text().strip()
    for value in ("czNjcjN0LXZhbHVl", "server-only-value", secret_key, f"sqlite:///{data}"):
        assert value not in logs
    assert "SQLite format" not in logs


@needs_task_user
def test_python_scripts_and_their_cached_environments_work_as_the_task_user(reachable_tmp: Path) -> None:
    cli = _cli(reachable_tmp, TASK_USER)
    flow = cli.flow("py.yaml", """
id: py
namespace: hostile
tasks:
  - id: script
    type: io.kestra.plugin.scripts.python.Script
    outputFiles: [out.txt]
    script: |
      import getpass, os
      from kestra import Kestra
      open("out.txt", "w").write("written by " + getpass.getuser())
      Kestra.outputs({"user": getpass.getuser(), "home": os.environ["HOME"] == os.getcwd()})
""")
    execution, _ = _logs(cli, flow)
    assert execution["state"] == "SUCCESS", execution
    [run] = execution["taskRuns"]  # type: ignore[misc]
    assert run["outputs"]["vars"] == {"user": TASK_USER, "home": True}
    assert set(run["outputs"]["outputFiles"]) == {"out.txt"}


@needs_task_user
def test_a_python_environment_is_built_by_the_task_user_and_then_read_only_to_it(reachable_tmp: Path) -> None:
    wheels = reachable_tmp / "wheels"
    write_wheel(wheels)
    os.chmod(wheels, 0o755)
    os.chmod(next(wheels.iterdir()), 0o644)
    cli = _cli(reachable_tmp, TASK_USER)
    cli.env.update({"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)})
    flow = cli.flow("deps.yaml", """
id: deps
namespace: hostile
tasks:
  - id: probe
    type: io.kestra.plugin.scripts.python.Script
    dependencies: [choreo-probe==1.0]
    script: |
      import os, choreo_probe
      from kestra import Kestra
      Kestra.outputs({"value": choreo_probe.VALUE, "can_write": os.access(choreo_probe.__file__, os.W_OK)})
""")
    execution, logs = _logs(cli, flow)
    assert execution["state"] == "SUCCESS", logs
    [run] = execution["taskRuns"]  # type: ignore[misc]
    assert run["outputs"]["vars"] == {"value": 42, "can_write": False}
    [venv] = [p for p in (reachable_tmp / "data" / "venvs").iterdir() if p.is_dir()]
    assert venv.stat().st_uid == os.geteuid()
