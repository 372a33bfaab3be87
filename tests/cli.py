"""The command line as a user runs it: `manage.py` in a real process, on a fresh database."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

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


class Server:
    """A real ``serve`` process on a free port, on the Cli's database."""

    def __init__(self, cli: Cli, proc: subprocess.Popen[str], url: str) -> None:
        self.cli, self.proc, self.url = cli, proc, url

    def stderr_after_stop(self) -> str:
        self.proc.terminate()
        _, stderr = self.proc.communicate(timeout=30)
        return stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(cli: Cli, role: str = "all") -> Iterator[Server]:
    """``manage.py serve`` until it answers /health; killed afterwards if still running."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port), "--role", role],
                            cwd=ROOT, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield Server(cli, proc, url)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
