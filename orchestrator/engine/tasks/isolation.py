"""What a task's processes may see of the server: a clean environment, and, with
CHOREO_TASK_USER, another user's rights.

Every process a task starts (shell, Python, the build of a Python environment) gets an
environment of its own: the variables below and what the task sets, never the server's
(DATABASE_URL, SECRET_*, CHOREO_*...). With a task user (the server runs as root), it also
runs as that user: it cannot read the server's memory or environment (``/proc/<pid>/environ``
of the server and of every process of another user is closed to it), nor the data dir
(the database, the secret key, internal storage: private to the server's user, see
``protect_data_dir``). Its working directory is handed to the task user before it starts.

Not provided: a network boundary, limits on CPU and memory, or isolation between tasks of
different flows (they share the task user); and tasks that run inside the server's process
(DuckDB queries, HTTP requests, expressions) have the server's rights.
"""
from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings

# The only variables of the server's environment a task's process inherits.
_INHERITED = frozenset({"PATH", "LANG", "LANGUAGE", "TZ", "TERM", "http_proxy", "https_proxy", "no_proxy",
                        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"})
_INHERITED_PREFIXES = ("LC_",)


@dataclass(frozen=True)
class TaskUser:
    name: str
    uid: int
    gid: int


@lru_cache(maxsize=4)
def _user(name: str) -> TaskUser:
    entry = pwd.getpwnam(name)  # settings checked that it exists
    return TaskUser(name, entry.pw_uid, entry.pw_gid)


def task_user() -> TaskUser | None:
    """The user tasks run as, or None: they run as the server's own user."""
    name: str = settings.CHOREO_TASK_USER
    return _user(name) if name else None


def process_env(workdir: Path | None) -> dict[str, str]:
    """A task process's starting environment: a few variables of the server's, and HOME
    and TMPDIR in its working directory (the task user has no home of its own)."""
    env = {k: v for k, v in os.environ.items() if k in _INHERITED or k.startswith(_INHERITED_PREFIXES)}
    env.setdefault("PATH", os.defpath)
    if workdir is not None:
        env["HOME"] = env["TMPDIR"] = str(workdir)
    return env


def popen_options() -> dict[str, Any]:
    """Extra ``subprocess.Popen`` arguments that make the process the task user's."""
    user = task_user()
    if user is None:
        return {}
    # umask 077: what the task writes stays its own (and the server's, which is root).
    return {"user": user.uid, "group": user.gid, "extra_groups": [], "umask": 0o077}


def hand_over(path: Path) -> None:
    """Give ``path`` and everything in it to the task user (nothing without one)."""
    user = task_user()
    if user is None:
        return
    _chown_tree(path, user.uid, user.gid)


def take_back(path: Path) -> None:
    """Make ``path`` the server's again, readable by the task user but not writable:
    a cached Python environment, once built, is shared by every task."""
    if task_user() is None:
        return
    uid, gid = os.geteuid(), os.getegid()
    for root, _dirs, files in os.walk(path):  # every folder is a root once
        for target in (root, *(os.path.join(root, name) for name in files)):
            os.chown(target, uid, gid, follow_symlinks=False)
            if not os.path.islink(target):
                mode = os.stat(target).st_mode
                # Readable by all, executable where its owner may execute it, writable by root only.
                os.chmod(target, (mode | 0o444 | (0o111 if mode & 0o100 else 0)) & ~0o022)


def shared_folder(path: Path) -> None:
    """A folder on the way to task users' folders: they may pass through, not list it."""
    path.mkdir(parents=True, exist_ok=True)
    if task_user() is not None:
        os.chmod(path, 0o711)


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid, follow_symlinks=False)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)
