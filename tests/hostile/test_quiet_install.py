"""`make run` on a fresh clone shows progress and the URL, not warnings the project could fix."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# This machine's pip configuration points at package folders that may not exist; pip
# says so for every package. That is the machine's doing, not the project's.
MACHINE_NOISE = "WARNING: Location 'file:"


def test_installing_the_project_prints_no_warning(tmp_path: Path) -> None:
    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(target / "bin" / "python"),
         "install", "-q", "--no-deps", "-e", str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    said = [line for line in (done.stdout + done.stderr).splitlines() if line.strip() and MACHINE_NOISE not in line]
    assert said == []
