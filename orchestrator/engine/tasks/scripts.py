"""What every script task shares: its options, its files, and how its command line runs.

A script task writes ``inputFiles`` into its working directory, runs one shell command
line (``beforeCommands`` then its own lines, through ``interpreter``), and keeps the files
matching ``outputFiles`` in internal storage. Outputs, as in Kestra:
``{"exitCode": n, "vars": {...}, "outputFiles": {name: uri}}``.

``taskRunner``, ``containerImage`` and ``docker`` are accepted so Kestra flows load, and
ignored: the commands always run as processes of the worker.
"""
from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field

from orchestrator.engine.processes import ProcessResult, base_env, run_process
from orchestrator.engine.storage import SCHEME, StorageError, storage
from orchestrator.engine.tasks.base import RunContext, RunnableTask, TaskFailed


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


class ScriptTask(RunnableTask):
    """Options and behaviour common to the shell and Python script tasks."""

    uses_working_dir: ClassVar[bool] = True

    beforeCommands: list[str] = Field(default_factory=list)
    interpreter: list[str] = Field(default_factory=lambda: ["/bin/sh", "-c"], min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    inputFiles: InputFiles | None = None
    outputFiles: list[str] = Field(default_factory=list)
    warningOnStdErr: bool = True
    failFast: bool = True
    taskRunner: dict[str, Any] | None = None
    containerImage: str | None = None
    docker: dict[str, Any] | None = None

    def run(self, ctx: RunContext) -> dict[str, Any]:
        workdir = ctx.working_dir
        env = {**base_env(), **{str(k): str(v) for k, v in ctx.render(self.env).items()}}
        write_input_files(ctx, self.inputFiles, workdir)
        before = [ctx.render_str(c) for c in self.beforeCommands]
        main, scratch = self.main_lines(ctx, workdir, env)
        try:
            result = self.run_lines(ctx, [*before, *main], workdir, env)
        finally:
            for path in scratch:
                path.unlink(missing_ok=True)
        if result.exit_code != 0:
            raise TaskFailed(f"Command failed with exit code {result.exit_code}")
        outputs = {
            "exitCode": result.exit_code,
            "vars": result.vars,
            "outputFiles": store_output_files(ctx, [ctx.render_str(p) for p in self.outputFiles], workdir),
        }
        if result.wrote_stderr and self.warningOnStdErr:
            ctx.end_in_warning()
        return outputs

    @abc.abstractmethod
    def main_lines(self, ctx: RunContext, workdir: Path, env: dict[str, str]) -> tuple[list[str], list[Path]]:
        """This task's own command lines, and scratch files to remove after the run.
        May change ``env`` (the interpreter's PATH)."""

    def run_lines(self, ctx: RunContext, lines: Sequence[str], workdir: Path, env: dict[str, str]) -> ProcessResult:
        script = "\n".join(["set -e", *lines] if self.failFast else lines)
        argv = [*(ctx.render_str(part) for part in self.interpreter), script]
        return run_process(ctx, argv, cwd=workdir, env=env)


def write_input_files(ctx: RunContext, files: dict[str, str] | str | None, workdir: Path) -> None:
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
        contents = {str(k): str(v) for k, v in mapping.items()}
    else:
        contents = {ctx.render_str(k): ctx.render_str(v) for k, v in files.items()}
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
    """Store the files matching ``patterns`` (globs relative to ``workdir``)."""
    root = workdir.resolve()
    stored: dict[str, str] = {}
    for pattern in patterns:
        if not pattern.strip() or Path(pattern).is_absolute() or ".." in Path(pattern).parts:
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
