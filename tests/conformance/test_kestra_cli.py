"""Every valid case of the shared corpus through the command line, as the project is checked:
each case in a fresh SQLite database with its own data dir, with no migrate beforehand."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.conformance.corpus import check, corpus_dir, load_cases

CASES = load_cases()
ROOT = Path(__file__).resolve().parents[2]


def _input_args(inputs: dict[str, Any] | None) -> list[str]:
    args: list[str] = []
    for key, value in (inputs or {}).items():
        text = json.dumps(value) if not isinstance(value, str) else value
        args += ["--input", f"{key}={text}"]
    return args


def _cli(tmp: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'case.sqlite3'}",
        "CHOREO_DATA_DIR": str(tmp / "data"),
        "CHOREO_SHARED_DIR": str(settings.CHOREO_SHARED_DIR),
    }
    proc = subprocess.run(
        [sys.executable, "manage.py", *args, "--json", "--logs"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=120,
    )
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"stdout is not one JSON document (exit {proc.returncode}):\n{proc.stdout}\n"
                             f"stderr:\n{proc.stderr}") from None
    return proc.returncode, doc, proc.stderr


def _expected_exit(state: str) -> int:
    return 0 if state in ("SUCCESS", "WARNING", "PAUSED") else 1


@pytest.mark.parametrize("case", CASES["valid"], ids=[c["name"] for c in CASES["valid"]])
def test_valid_case_through_the_cli(case: dict[str, Any], tmp_path: Path) -> None:
    base = corpus_dir()
    with_args: list[str] = []
    for extra in case.get("with") or []:
        with_args += ["--with", str(base / extra)]
    code, doc, stderr = _cli(tmp_path, "flows", "run", str(base / case["flow"]), *with_args,
                             *_input_args(case.get("inputs")))
    assert check(doc, case["expect"]) == [], stderr
    assert code == _expected_exit(doc["state"]), stderr
    for step in case.get("then") or []:
        if "resume" in step:
            code, doc, stderr = _cli(tmp_path, "executions", "resume", doc["id"], *_input_args(step["resume"]))
        elif "restart" in step:
            code, doc, stderr = _cli(tmp_path, "executions", "restart", doc["id"])
        else:
            code, doc, stderr = _cli(tmp_path, "executions", "wait", doc["id"])
        assert check(doc, step["expect"]) == [], (step, stderr)
        assert code == _expected_exit(doc["state"]), stderr
