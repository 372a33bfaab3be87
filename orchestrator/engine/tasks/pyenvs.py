"""Cached Python virtual environments for the ``dependencies`` of Python tasks.

One environment per set of requirements and interpreter, under
``CHOREO_DATA_DIR/venvs/<sha256>``, shared by every task and run that asks for the same
set. It is built once, even when tasks of several workers ask at the same moment: a
builder holds an exclusive ``flock`` on ``<sha256>.lock``, and an environment counts only
once its ``.choreo-ready`` marker exists (written last).

Why not build in a temporary folder and rename it: a virtual environment is not
relocatable (pip's console scripts and ``activate`` name their absolute path), so it is
built in place and made visible by the marker instead; a half-built folder left by a
crash is removed by the next builder.

pip reads its usual environment (``PIP_INDEX_URL``, ``PIP_FIND_LINKS``, ``PIP_NO_INDEX``...).
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path

from django.conf import settings

from orchestrator.engine.tasks.isolation import hand_over, shared_folder, take_back
from orchestrator.engine.tasks.processes import run_process
from orchestrator.engine.tasks.base import RunContext, TaskFailed

READY = ".choreo-ready"
_LOCK_POLL_SECONDS = 0.2
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*) ?(\[.*|[=<>!~;@(].*)?$")


def venvs_dir() -> Path:
    return Path(settings.CHOREO_DATA_DIR) / "venvs"


def normalise(requirements: Iterable[str]) -> list[str]:
    """Sorted, de-duplicated requirements, still valid for pip: project names in PEP 503
    form, blanks squeezed (and dropped from plain version specifiers)."""
    return sorted({n for n in (_normal(r) for r in requirements) if n})


def _normal(raw: str) -> str:
    text = " ".join(raw.split())
    match = _NAME.match(text)
    if match is None:
        return text  # an option, a URL or a path: kept as written
    name, rest = match.group(1), (match.group(2) or "").strip()
    if ";" not in rest and "@" not in rest:
        rest = rest.replace(" ", "")
    name = re.sub(r"[-_.]+", "-", name).lower()
    return f"{name} {rest}" if rest[:1] in (";", "@") else name + rest


def environment_key(requirements: Iterable[str]) -> str:
    identity = {
        "requirements": normalise(requirements),
        "python": sys.version,
        "executable": sys.executable,
        "machine": platform.machine(),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def python_for(ctx: RunContext, requirements: Iterable[str], env: Mapping[str, str]) -> str:
    """The interpreter to run a script with: ``sys.executable`` without requirements,
    else the python of the cached environment holding them (built now if need be)."""
    wanted = normalise(requirements)
    if not wanted:
        return sys.executable
    key = environment_key(wanted)
    path = venvs_dir() / key
    python = str(path / "bin" / "python")
    if (path / READY).is_file():
        ctx.log("DEBUG", f"Using the cached Python environment {path}")
        return python
    shared_folder(path.parent)
    with open(path.parent / f"{key}.lock", "w") as lock:
        _lock(ctx, lock.fileno())
        try:
            if (path / READY).is_file():
                ctx.log("DEBUG", f"Using the cached Python environment {path}, built meanwhile")
                return python
            _build(ctx, path, wanted, env)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return python


def _lock(ctx: RunContext, fd: int) -> None:
    # Polled, not blocking, so a kill or a timeout still ends a task waiting for a build.
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            ctx.sleep(_LOCK_POLL_SECONDS)


def _build(ctx: RunContext, path: Path, requirements: list[str], env: Mapping[str, str]) -> None:
    if path.exists():
        shutil.rmtree(path)  # left half-built by a process that died
    ctx.log("INFO", f"Building a Python environment for {', '.join(requirements)} in {path}")
    # Built by the task user (pip runs the packages' build code), then made the server's:
    # read-only to the tasks that share it.
    path.mkdir()
    hand_over(path)
    # The server's pip settings (a mirror: PIP_INDEX_URL...) apply to the build, not to scripts.
    pip = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
    build_env = {**env, **pip, "HOME": str(path), "PIP_NO_CACHE_DIR": "1"}
    try:
        steps = (
            ("creating the virtual environment", [sys.executable, "-m", "venv", str(path)]),
            ("installing the dependencies", [str(path / "bin" / "python"), "-m", "pip", "install",
                                             "--disable-pip-version-check", "--no-input", *requirements]),
        )
        for what, argv in steps:
            result = run_process(ctx, argv, cwd=path, env=build_env, parse_outputs=False)
            if result.exit_code != 0:
                raise TaskFailed(f"Building the Python environment failed while {what} "
                                 f"(exit code {result.exit_code}); see the lines above")
        take_back(path)
        marker = path / f"{READY}.tmp"
        marker.write_text(json.dumps({"requirements": requirements, "python": sys.version,
                                      "built": datetime.now(timezone.utc).isoformat()}))
        os.replace(marker, path / READY)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
