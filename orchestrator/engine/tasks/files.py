"""inputFiles and outputFiles: files in and out of a task's working directory.

Shared by every task that works with files (scripts, DuckDB): ``inputFiles`` maps a file
name to text (templated) or to a ``choreo://`` URI copied from internal storage, either
as a map or as a JSON object (text or expression); ``outputFiles`` lists globs, relative
to the working directory, whose matches are kept in internal storage.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator

from orchestrator.engine.storage import SCHEME, StorageError, storage
from orchestrator.engine.tasks.base import RunContext, TaskFailed


def _check_input_files(value: Any) -> Any:
    if isinstance(value, str) and "{{" not in value and "{%" not in value:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            raise ValueError(f"inputFiles must be a map or a JSON object, got {value[:200]!r}")
    return value


# File name -> content (templated) or a choreo:// URI; or a JSON object text / expression.
InputFiles = Annotated[dict[str, str] | str, AfterValidator(_check_input_files)]


def write_input_files(ctx: RunContext, files: dict[str, Any] | str | None, workdir: Path) -> None:
    """Write each file: rendered text, or a stored file copied when the value is a URI."""
    if files is None:
        return
    if isinstance(files, str):
        rendered = ctx.render_typed(files)
        try:
            mapping = json.loads(rendered) if isinstance(rendered, str) else rendered
        except json.JSONDecodeError:
            raise TaskFailed(f"inputFiles must render to a JSON object, got {str(rendered)[:200]!r}") from None
        if not isinstance(mapping, dict):
            raise TaskFailed(f"inputFiles must render to a JSON object, got {str(rendered)[:200]!r}")
        contents = {str(k): _text(v) for k, v in mapping.items()}
    else:
        contents = {ctx.render_str(k): _text(ctx.render(v)) for k, v in files.items()}
    for name, content in contents.items():
        target = inside(workdir, name, "inputFiles")
        target.parent.mkdir(parents=True, exist_ok=True)
        if content.startswith(SCHEME) and not any(c.isspace() for c in content):
            try:
                storage().copy_to(content, target)
            except StorageError as exc:
                raise TaskFailed(f"inputFiles {name!r}: {exc}") from None
        else:
            target.write_text(content, encoding="utf-8")


def store_output_files(ctx: RunContext, patterns: Sequence[str], workdir: Path) -> dict[str, str]:
    """Store the files matching ``patterns`` (templated globs relative to ``workdir``)."""
    root = workdir.resolve()
    stored: dict[str, str] = {}
    for raw in patterns:
        pattern = ctx.render_str(raw).strip()
        if not pattern or Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise TaskFailed(f"outputFiles {pattern!r}: must be a pattern relative to the working directory")
        for path in sorted(root.glob(pattern)):
            if path.is_file() and root in path.resolve().parents:
                name = path.relative_to(root).as_posix()
                if name not in stored:
                    stored[name] = ctx.store(path, name)
    return stored


def inside(workdir: Path, name: str, what: str) -> Path:
    """``workdir / name``, refusing names that leave the working directory."""
    root = workdir.resolve()
    target = (root / name).resolve()
    if root not in target.parents:
        raise TaskFailed(f"{what} {name!r}: must be a path inside the working directory")
    return target


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
