"""Typed readers of environment settings that fail loudly on bad values."""
from __future__ import annotations

import os
import pwd
import secrets
from pathlib import Path


class ConfigError(RuntimeError):
    """A setting from the environment cannot be used."""


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be above 0")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true or false)")


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ConfigError(f"{name}={value!r} must be one of {', '.join(choices)}")
    return value


def secret_key(data_dir: Path) -> str:
    """CHOREO_SECRET_KEY, else a key generated once and kept in the data dir."""
    value = os.environ.get("CHOREO_SECRET_KEY")
    if value:
        return value
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    # O_EXCL: two processes starting at once agree on the first key written.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def env_task_user(name: str) -> str:
    """The user task processes run as ("" for the server's own): it must exist, and only
    root can start processes as another user."""
    value = env_str(name, "")
    if not value:
        return ""
    try:
        pwd.getpwnam(value)
    except KeyError:
        raise ConfigError(f"{name}={value!r}: no such user on this machine (make run creates 'choreo-task' "
                          f"when it runs as root; or unset {name} to run tasks as the server's user)") from None
    if os.geteuid() != 0:
        raise ConfigError(f"{name}={value!r}: only a server running as root can run tasks as another user "
                          f"(unset {name} to run them as {pwd.getpwuid(os.geteuid()).pw_name})")
    return value


# Entries of the data dir a task user may reach (each guards its own contents).
_REACHABLE = frozenset({"work", "venvs"})


def protect_data_dir(data_dir: Path) -> None:
    """With a task user: the data dir may be passed through (to the task folders under
    work/, the Python environments under venvs/), never listed; everything else in it
    (the database, the secret key, internal storage) is the server's alone."""
    os.chmod(data_dir, 0o711)
    for entry in data_dir.iterdir():
        if entry.name in _REACHABLE or entry.is_symlink():
            continue
        os.chmod(entry, 0o700 if entry.is_dir() else 0o600)
