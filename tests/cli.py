"""The command line as a user runs it: `manage.py` in a real process, on a fresh database."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class Cli:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'cli.sqlite3'}",
                    "CHOREO_DATA_DIR": str(tmp / "data")}

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def flow(self, name: str, text: str) -> str:
        path = self.tmp / name
        path.write_text(text)
        return str(path)
